import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677) in PostgreSQL's `rolpassword` format:
 *
 *   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>
 *
 * Computed on the worker so that `CREATE/ALTER ROLE … PASSWORD` never carries the
 * password itself: the server stores what it is sent verbatim (it recognises the
 * format), so its statement log, pg_stat_statements and pg_stat_activity only
 * ever see the verifier.
 */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface ScramOptions {
  /** Tests only: a fixed salt (production uses 16 random bytes per verifier, like PostgreSQL). */
  salt?: Buffer;
  iterations?: number;
}

export interface ScramKeys {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * SASLprep (RFC 4013) as PostgreSQL and node-postgres apply it before hashing.
 * Pure ASCII is used unchanged (PostgreSQL's fast path). Otherwise the three steps
 * that change bytes: non-ASCII spaces → U+0020, "commonly mapped to nothing" removed,
 * NFKC. Like node-postgres we skip the prohibited-character and bidi checks.
 */
export function saslprep(password: string): string {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
  const mappedToNothing = /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
  return password.replace(nonAsciiSpace, ' ').replace(mappedToNothing, '').normalize('NFKC');
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

export function scramKeys(password: string, options: ScramOptions = {}): ScramKeys {
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 4096) throw new Error('SCRAM iterations must be an integer ≥ 4096');
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const salted = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    iterations,
    salt,
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** The verifier PostgreSQL stores for `password` (new random salt on every call). */
export function scramSha256Verifier(password: string, options: ScramOptions = {}): string {
  const k = scramKeys(password, options);
  return `SCRAM-SHA-256$${k.iterations}:${k.salt.toString('base64')}$${k.storedKey.toString('base64')}:${k.serverKey.toString('base64')}`;
}

const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

export function parseScramVerifier(verifier: string): ScramKeys | undefined {
  const m = VERIFIER.exec(verifier);
  if (!m) return undefined;
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2]!, 'base64'),
    storedKey: Buffer.from(m[3]!, 'base64'),
    serverKey: Buffer.from(m[4]!, 'base64'),
  };
}

/**
 * What a server does with a verifier at login (RFC 5802 §3): recovers ClientKey from the
 * client's proof, checks SHA-256(ClientKey) = StoredKey, and returns the ServerSignature
 * it would send back. Used by the tests to check verifiers against the RFC 7677 exchange.
 */
export function verifyClientProof(
  keys: Pick<ScramKeys, 'storedKey' | 'serverKey'>,
  authMessage: string,
  clientProof: Buffer,
): { ok: boolean; serverSignature: Buffer } {
  const clientSignature = hmac(keys.storedKey, authMessage);
  if (clientProof.length !== clientSignature.length) return { ok: false, serverSignature: Buffer.alloc(0) };
  const clientKey = Buffer.alloc(clientProof.length);
  for (let i = 0; i < clientProof.length; i++) clientKey[i] = clientProof[i]! ^ clientSignature[i]!;
  const ok = timingSafeEqual(createHash('sha256').update(clientKey).digest(), keys.storedKey);
  return { ok, serverSignature: hmac(keys.serverKey, authMessage) };
}
