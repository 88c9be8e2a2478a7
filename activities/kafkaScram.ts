import { createRequire } from 'node:module';
import { pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { KafkaConfig } from 'kafkajs';

/**
 * SCRAM credentials through the Admin API (KIP-554: DescribeUserScramCredentials, key 50;
 * AlterUserScramCredentials, key 51), the only way to set them on a KRaft cluster.
 *
 * Why this is written here: kafkajs (rekey's client) has no such call, and the Node clients
 * that do need Node ≥ 22 (@platformatic/kafka) or a native build (Confluent's librdkafka
 * client). The two requests are sent over kafkajs's own broker connection (TLS, SASL,
 * version negotiation and framing stay kafkajs's); only their encoding is ours, in kafkajs's
 * flexible-version style (the empty tag buffer that opens the body completes header v2).
 */
const require = createRequire(import.meta.url);

interface InternalEncoder {
  writeInt8(v: number): InternalEncoder;
  writeInt32(v: number): InternalEncoder;
  writeUVarInt(v: number): InternalEncoder;
  writeUVarIntString(v: string): InternalEncoder;
  writeUVarIntBytes(v?: Buffer): InternalEncoder;
  writeUVarIntArray(v: InternalEncoder[] | null, type?: 'object'): InternalEncoder;
}
interface InternalDecoder {
  readInt8(): number;
  readInt16(): number;
  readInt32(): number;
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: InternalDecoder) => T): T[];
  readTaggedFields(): void;
}
interface InternalBroker {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  connectionPool: { send<T>(r: { request: unknown; response: unknown }): Promise<T> };
}

const Encoder = require('kafkajs/src/protocol/encoder') as new () => InternalEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => InternalDecoder;
const Broker = require('kafkajs/src/broker') as new (o: object) => InternalBroker;
const ConnectionPool = require('kafkajs/src/network/connectionPool') as new (o: object) => object;
const { createLogger, LEVELS } = require('kafkajs/src/loggers') as {
  createLogger: (o: object) => unknown;
  LEVELS: { NOTHING: number };
};
const defaultSocketFactory = require('kafkajs/src/network/socketFactory') as () => unknown;

export const scramMechanisms = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 } as const;
export type ScramMechanism = keyof typeof scramMechanisms;
const digest = { 'SCRAM-SHA-256': ['sha256', 32], 'SCRAM-SHA-512': ['sha512', 64] } as const;
/** Kafka accepts 4096–16384 iterations (ScramMechanism.minIterations/maxIterations). */
export const SCRAM_ITERATIONS = 8192;

const pbkdf2Async = promisify(pbkdf2);

/** RFC 5802's SaltedPassword := Hi(password, salt, i): what the broker stores (it never sees the password). */
export async function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number) {
  const [hash, length] = digest[mechanism];
  return pbkdf2Async(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, length, hash);
}

export interface ScramUser {
  user: string;
  mechanisms: Array<{ mechanism: ScramMechanism | string; iterations: number }>;
}

export class ScramError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ScramError';
  }
}

/** Kafka error codes these calls answer (protocol ErrorCodes). */
const RESOURCE_NOT_FOUND = 91;
const mechanismName = (n: number) =>
  (Object.entries(scramMechanisms).find(([, v]) => v === n)?.[0] ?? `mechanism ${n}`) as string;

function describeRequest(users: string[] | null) {
  return {
    apiKey: 50,
    apiVersion: 0,
    apiName: 'DescribeUserScramCredentials',
    encode: async () =>
      new Encoder()
        .writeUVarIntBytes()
        .writeUVarIntArray(users && users.map((u) => new Encoder().writeUVarIntString(u).writeUVarIntBytes()))
        .writeUVarIntBytes(),
  };
}

const describeResponse = {
  decode: async (raw: Buffer) => {
    const d = new Decoder(raw);
    d.readTaggedFields();
    d.readInt32(); // throttle
    const errorCode = d.readInt16();
    const errorMessage = d.readUVarIntString();
    const results = d.readUVarIntArray((r) => {
      const user = r.readUVarIntString() ?? '';
      const code = r.readInt16();
      const message = r.readUVarIntString();
      const mechanisms = r.readUVarIntArray((c) => {
        const m = { mechanism: mechanismName(c.readInt8()), iterations: c.readInt32() };
        c.readTaggedFields();
        return m;
      });
      r.readTaggedFields();
      return { user, code, message, mechanisms };
    });
    return { errorCode, errorMessage, results };
  },
  parse: async <T>(data: T) => data,
};

interface Upsertion {
  user: string;
  mechanism: ScramMechanism;
  iterations: number;
  salt: Buffer;
  salted: Buffer;
}

function alterRequest(deletions: Array<{ user: string; mechanism: ScramMechanism }>, upsertions: Upsertion[]) {
  return {
    apiKey: 51,
    apiVersion: 0,
    apiName: 'AlterUserScramCredentials',
    encode: async () =>
      new Encoder()
        .writeUVarIntBytes()
        .writeUVarIntArray(
          deletions.map((x) =>
            new Encoder().writeUVarIntString(x.user).writeInt8(scramMechanisms[x.mechanism]).writeUVarIntBytes(),
          ),
          'object',
        )
        .writeUVarIntArray(
          upsertions.map((x) =>
            new Encoder()
              .writeUVarIntString(x.user)
              .writeInt8(scramMechanisms[x.mechanism])
              .writeInt32(x.iterations)
              .writeUVarIntBytes(x.salt)
              .writeUVarIntBytes(x.salted)
              .writeUVarIntBytes(),
          ),
          'object',
        )
        .writeUVarIntBytes(),
  };
}

const alterResponse = {
  decode: async (raw: Buffer) => {
    const d = new Decoder(raw);
    d.readTaggedFields();
    d.readInt32();
    const results = d.readUVarIntArray((r) => {
      const x = { user: r.readUVarIntString() ?? '', code: r.readInt16(), message: r.readUVarIntString() };
      r.readTaggedFields();
      return x;
    });
    return { results };
  },
  parse: async <T>(data: T) => data,
};

/**
 * One connection to the first broker of `config` that answers, with kafkajs's TLS and SASL
 * settings. Any broker takes both requests: a KRaft broker forwards them to the controller.
 */
async function withBroker<T>(config: KafkaConfig, fn: (b: InternalBroker) => Promise<T>): Promise<T> {
  const brokers = Array.isArray(config.brokers) ? config.brokers : await config.brokers();
  let lastError: unknown;
  for (const address of brokers) {
    const [host, port] = [
      address.slice(0, address.lastIndexOf(':')),
      Number(address.slice(address.lastIndexOf(':') + 1)),
    ];
    // silent: a log line could carry the request, and the caller reports failures itself
    const logger = createLogger({ level: LEVELS.NOTHING, logCreator: () => () => undefined });
    const pool = new ConnectionPool({
      host: host.replace(/^\[|\]$/g, ''),
      port,
      logger,
      socketFactory: defaultSocketFactory(),
      clientId: config.clientId ?? 'rekey-worker',
      ssl: config.ssl ?? null,
      sasl: config.sasl ?? null,
      connectionTimeout: config.connectionTimeout ?? 3000,
      requestTimeout: config.requestTimeout ?? 30000,
      enforceRequestTimeout: true,
    });
    const broker = new Broker({ connectionPool: pool, logger, authenticationTimeout: 10_000 });
    try {
      await broker.connect();
    } catch (err) {
      lastError = err;
      await broker.disconnect().catch(() => undefined);
      continue;
    }
    try {
      return await fn(broker);
    } finally {
      await broker.disconnect().catch(() => undefined);
    }
  }
  throw lastError instanceof Error ? lastError : new Error('no broker answered');
}

/** The SCRAM mechanisms each user has (users absent: every user with a credential). Unknown users are left out. */
export async function describeScramUsers(config: KafkaConfig, users: string[] | null): Promise<ScramUser[]> {
  const answer = await withBroker(config, (b) =>
    b.connectionPool.send<Awaited<ReturnType<typeof describeResponse.decode>>>({
      request: describeRequest(users),
      response: describeResponse,
    }),
  );
  if (answer.errorCode !== 0)
    throw new ScramError(answer.errorMessage ?? `error ${answer.errorCode}`, answer.errorCode);
  const failed = answer.results.find((r) => r.code !== 0 && r.code !== RESOURCE_NOT_FOUND);
  if (failed) throw new ScramError(`${failed.user}: ${failed.message ?? `error ${failed.code}`}`, failed.code);
  return answer.results.filter((r) => r.code === 0).map(({ user, mechanisms }) => ({ user, mechanisms }));
}

/** Sets `user`'s SCRAM credential to `password` (a new salt each time: the stored verifier changes, the password is never sent). */
export async function upsertScramUser(
  config: KafkaConfig,
  user: string,
  password: string,
  mechanism: ScramMechanism = 'SCRAM-SHA-512',
): Promise<void> {
  const salt = randomBytes(32);
  const salted = await saltedPassword(mechanism, password, salt, SCRAM_ITERATIONS);
  await alter(config, [], [{ user, mechanism, iterations: SCRAM_ITERATIONS, salt, salted }]);
}

/** Removes `user`'s SCRAM credential; a user without one is already done (idempotent). */
export async function deleteScramUser(
  config: KafkaConfig,
  user: string,
  mechanism: ScramMechanism = 'SCRAM-SHA-512',
): Promise<void> {
  await alter(config, [{ user, mechanism }], [], [RESOURCE_NOT_FOUND]);
}

async function alter(
  config: KafkaConfig,
  deletions: Array<{ user: string; mechanism: ScramMechanism }>,
  upsertions: Upsertion[],
  tolerated: number[] = [],
): Promise<void> {
  const answer = await withBroker(config, (b) =>
    b.connectionPool.send<Awaited<ReturnType<typeof alterResponse.decode>>>({
      request: alterRequest(deletions, upsertions),
      response: alterResponse,
    }),
  );
  const failed = answer.results.find((r) => r.code !== 0 && !tolerated.includes(r.code));
  if (failed) throw new ScramError(`${failed.user}: ${failed.message ?? `error ${failed.code}`}`, failed.code);
}
