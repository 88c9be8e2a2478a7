import { createHash } from 'node:crypto';

/** One version of a secret: key → value. Values never leave the activity that reads them. */
export type SecretData = Record<string, string>;

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
}

/**
 * The only place a secret value lives. Rotation steps pass names and fingerprints
 * between each other; each activity reads values from here when it needs them.
 */
export interface SecretStore {
  readonly kind: string;
  read(name: string): Promise<{ data: SecretData; info: SecretInfo } | undefined>;
  write(name: string, data: SecretData, options?: WriteOptions): Promise<SecretInfo>;
  remove(name: string): Promise<void>;
}

export class SecretConflictError extends Error {
  constructor(name: string, expected: string | null, actual: string | null) {
    super(`secret ${name} changed concurrently: expected version ${expected ?? '(absent)'}, found ${actual ?? '(absent)'}`);
    this.name = 'SecretConflictError';
  }
}

export function fingerprint(data: SecretData): string {
  const h = createHash('sha256');
  for (const key of Object.keys(data).sort()) h.update(`${key}\0${data[key]}\0`);
  return h.digest('hex').slice(0, 12);
}

export const siblings = (name: string) => ({ current: name, pending: `${name}-pending`, backup: `${name}-backup` });
