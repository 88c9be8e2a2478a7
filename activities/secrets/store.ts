import { createHash } from 'node:crypto';

/** One version of a secret: key → value (UTF-8 view). Values never leave the activity that reads them. */
export type SecretData = Record<string, string>;
/** The same version, byte for byte (a keystore or any binary value survives a copy unchanged). */
export type SecretBytes = Record<string, Buffer>;

export interface StoredSecret {
  data: SecretData;
  bytes: SecretBytes;
  info: SecretInfo;
}

/** What may be shown, logged or put in workflow history about a secret. */
export interface SecretInfo {
  name: string;
  keys: string[];
  /** Short hash of the values; equal values give equal fingerprints. */
  fingerprint: string;
  /** Opaque token for optimistic concurrency (Kubernetes resourceVersion, or the fingerprint for files). */
  version: string;
  annotations: Record<string, string>;
}

export interface WriteOptions {
  /** Refuse the write if the stored version differs (lost-update protection). `null` = must not exist. */
  expectedVersion?: string | null;
  annotations?: Record<string, string>;
  /** Change only the keys given; every other key of the stored secret stays as it is, byte for byte. */
  mergeKeys?: boolean;
}

/**
 * The only place a secret value lives. Rotation steps pass names and fingerprints
 * between each other; each activity reads values from here when it needs them.
 */
export interface SecretStore {
  readonly kind: string;
  read(name: string): Promise<StoredSecret | undefined>;
  write(name: string, data: SecretData | SecretBytes, options?: WriteOptions): Promise<SecretInfo>;
  remove(name: string): Promise<void>;
}

export class SecretConflictError extends Error {
  constructor(name: string, expected: string | null, actual: string | null) {
    super(
      `secret ${name} changed concurrently: expected version ${expected ?? '(absent)'}, found ${actual ?? '(absent)'}`,
    );
    this.name = 'SecretConflictError';
  }
}

export const toBytes = (data: SecretData | SecretBytes): SecretBytes =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')]));

export const toText = (bytes: SecretBytes): SecretData =>
  Object.fromEntries(Object.entries(bytes).map(([k, v]) => [k, v.toString('utf8')]));

/** Short hash over keys and raw bytes: equal values give equal fingerprints. */
export function fingerprint(data: SecretData | SecretBytes): string {
  const bytes = toBytes(data);
  const h = createHash('sha256');
  for (const key of Object.keys(bytes).sort()) h.update(`${key}\0`).update(bytes[key]!).update('\0');
  return h.digest('hex').slice(0, 12);
}

export const siblings = (name: string) => ({ current: name, pending: `${name}-pending`, backup: `${name}-backup` });
