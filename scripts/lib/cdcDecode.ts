import avro from 'avsc';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { loadStackConfig, pipeline } from '../stack/config.js';

/**
 * Debezium's `ts_ns` fields exceed 2^53: avsc refuses such longs by default. Consumers here
 * read strings (emails, markers), so longs decode to the nearest double.
 */
const lossyLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => Number(buf.readBigInt64LE()),
  toBuffer: (n: number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(Math.trunc(n)));
    return buf;
  },
  fromJSON: Number,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'number',
  compare: (a: number, b: number) => (a === b ? 0 : a < b ? -1 : 1),
});

/** A change event as consumers read it (the fields the demo, bench and tests look at). */
export interface ChangeEvent {
  op?: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

/**
 * Decodes the CDC topics' values as an independent consumer would: Confluent wire format
 * (magic 0, 4-byte schema id, Avro) through the registry's Confluent-compatible API, with
 * the read-only `probe` account; plain JSON (records written before the Avro converter)
 * as it is. Schemas are fetched once per id.
 */
export function createCdcDecoder(env: NodeJS.ProcessEnv = process.env) {
  const cfg = loadStackConfig(env);
  const types = new Map<number, Promise<avro.Type>>();
  let auth: Promise<string> | undefined;
  const authorization = () =>
    (auth ??= new FileSecretStore(cfg.secretsDir)
      .read(pipeline.registrySecret)
      .then((s) => `Basic ${Buffer.from(`${s?.data['probe-user']}:${s?.data['probe-password']}`).toString('base64')}`));

  async function typeOf(id: number): Promise<avro.Type> {
    let t = types.get(id);
    if (!t) {
      t = (async () => {
        const res = await fetch(`http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7/schemas/ids/${id}`, {
          headers: { authorization: await authorization() },
        });
        if (!res.ok) throw new Error(`schema ${id}: registry answered HTTP ${res.status}`);
        const { schema } = (await res.json()) as { schema: string };
        return avro.Type.forSchema(JSON.parse(schema) as avro.Schema, {
          wrapUnions: false,
          registry: { long: lossyLong },
        });
      })();
      types.set(id, t);
      t.catch(() => types.delete(id));
    }
    return t;
  }

  return async function decode(value: Buffer): Promise<ChangeEvent> {
    if (value.length > 5 && value[0] === 0)
      return (await typeOf(value.readInt32BE(1))).fromBuffer(value.subarray(5)) as ChangeEvent;
    return JSON.parse(value.toString()) as ChangeEvent;
  };
}
