import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  METADATA_ENCODING_KEY,
  type DataConverter,
  type Payload,
  type PayloadCodec,
  ValueError,
} from '@temporalio/common';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Payload metadata naming the key a payload was sealed with. */
export const KEY_ID_METADATA = 'encryption-key-id';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A named AES-256-GCM key: `key` is base64 of 32 bytes. */
export interface CodecKey {
  id: string;
  key: string;
}

/**
 * Keys a codec knows: it seals with `current`; it opens payloads sealed with `current`
 * or any of `previous` (kept until no running workflow or retained history holds them).
 */
export interface Keyring {
  current: CodecKey;
  previous?: CodecKey[];
}

/** A payload names a key id this codec does not hold. The message names the id, never the payload. */
export class UnknownKeyIdError extends ValueError {
  constructor(readonly keyId: string) {
    super(
      `payload encrypted with unknown key id "${printable(keyId)}"; add that key to the keyring (REKEY_CODEC_PREVIOUS_KEYS)`,
    );
  }
}

/** A sealed payload that does not open with the key its id names (wrong key material or tampered bytes). */
export class UndecryptablePayloadError extends ValueError {
  constructor(readonly keyId: string | undefined) {
    super(
      keyId === undefined
        ? 'payload cannot be decrypted with any known key'
        : `payload cannot be decrypted with key id "${printable(keyId)}" (wrong key or corrupted payload)`,
    );
  }
}

/** Key ids come from payload metadata: show them only if they look like ids. */
const printable = (id: string) => (/^[\w.-]{1,64}$/.test(id) ? id : '<malformed id>');

function keyBytes(k: CodecKey): Buffer {
  if (!k.id) throw new ValueError('codec key id must not be empty');
  const bytes = Buffer.from(k.key, 'base64');
  if (bytes.length !== 32) throw new ValueError(`codec key "${printable(k.id)}" must be base64 of exactly 32 bytes`);
  return bytes;
}

/**
 * AES-256-GCM payload codec: every payload (inputs, results, signals, queries, memo) is
 * encrypted before it leaves the process. A second line of defence: secret values never
 * enter payloads in the first place.
 *
 * Sealed payload: metadata `encoding: binary/encrypted`, `encryption-key-id: <id>`;
 * data = 12-byte IV ‖ ciphertext of the original payload (JSON) ‖ 16-byte tag.
 */
export class AesGcmCodec implements PayloadCodec {
  readonly currentKeyId: string;
  private readonly current: Buffer;
  private readonly keys = new Map<string, Buffer>();

  /** `new AesGcmCodec({ current, previous })`, or the single-key form `new AesGcmCodec(keyBase64, keyId)`. */
  constructor(keyring: Keyring);
  constructor(keyBase64: string, keyId: string);
  constructor(keyringOrKey: Keyring | string, keyId?: string) {
    const keyring: Keyring =
      typeof keyringOrKey === 'string' ? { current: { id: keyId ?? '', key: keyringOrKey } } : keyringOrKey;
    for (const k of [keyring.current, ...(keyring.previous ?? [])]) {
      if (this.keys.has(k.id)) throw new ValueError(`codec key id "${printable(k.id)}" appears twice in the keyring`);
      this.keys.set(k.id, keyBytes(k));
    }
    this.currentKeyId = keyring.current.id;
    this.current = this.keys.get(this.currentKeyId)!;
  }

  /** Ids this codec can decrypt, current first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.current, iv);
      const plain = Buffer.from(
        JSON.stringify({
          metadata: Object.fromEntries(
            Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: payload.data ? Buffer.from(payload.data).toString('base64') : undefined,
        }),
      );
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: encoder.encode(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: encoder.encode(this.currentKeyId),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || decoder.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
      const idBytes = payload.metadata?.[KEY_ID_METADATA];
      const sealed = Buffer.from(payload.data ?? new Uint8Array());
      if (idBytes === undefined) {
        // sealed without an id (none of ours does that): any known key that opens it
        for (const key of this.keys.values()) {
          const opened = open(key, sealed);
          if (opened) return opened;
        }
        throw new UndecryptablePayloadError(undefined);
      }
      const id = decoder.decode(idBytes);
      const key = this.keys.get(id);
      if (!key) throw new UnknownKeyIdError(id);
      const opened = open(key, sealed);
      if (!opened) throw new UndecryptablePayloadError(id);
      return opened;
    });
  }
}

function open(key: Buffer, sealed: Buffer): Payload | undefined {
  if (sealed.length < 12 + 16) return undefined;
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    plain = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(plain.toString()) as { metadata: Record<string, string>; data?: string };
  return {
    metadata: Object.fromEntries(
      Object.entries(parsed.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: parsed.data === undefined ? undefined : new Uint8Array(Buffer.from(parsed.data, 'base64')),
  };
}

/** The codec part of the worker configuration (workers/config.ts). */
export interface CodecSettings {
  key?: string;
  keyId: string;
  previousKeys?: CodecKey[];
  insecureNoEncryption: boolean;
}

/** The keyring a codec configuration describes (undefined: encryption off). */
export function keyringOf(codec: CodecSettings): Keyring | undefined {
  return codec.key ? { current: { id: codec.keyId, key: codec.key }, previous: codec.previousKeys ?? [] } : undefined;
}

/** Loaded by path into the worker and (at bundle time) into the workflow bundle. */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/** The data converter worker and clients share. Failure messages and stacks are encoded too. */
export function dataConverter(codec: CodecSettings): DataConverter {
  const keyring = keyringOf(codec);
  if (!keyring) {
    if (!codec.insecureNoEncryption) throw new Error('refusing to run without a payload codec key (REKEY_CODEC_KEY)');
    return {};
  }
  return {
    payloadCodecs: [new AesGcmCodec(keyring)],
    failureConverterPath,
  };
}
