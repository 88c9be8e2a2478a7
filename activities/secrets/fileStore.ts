import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  fingerprint,
  SecretConflictError,
  toBytes,
  toText,
  type SecretBytes,
  type SecretData,
  type SecretInfo,
  type SecretStore,
  type StoredSecret,
  type WriteOptions,
} from './store.js';

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const KEY = /^[-._a-zA-Z0-9]+$/;
const META = '.rekey-meta.json';
/** The fingerprint of the last complete write, written after every key. */
const VERSION = '.rekey-version';

/**
 * Docker-secrets style store: one folder per secret, one file per key (mode 0600),
 * each written atomically (temp file + rename) so a reader such as Kafka Connect's
 * DirectoryConfigProvider never sees a half-written value.
 */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file';
  constructor(private readonly root: string) {}

  private dir(name: string): string {
    if (!NAME.test(name))
      throw new Error(`invalid secret name ${JSON.stringify(name)}: use lowercase letters, digits, '-' and '.'`);
    return path.join(this.root, name);
  }

  /** Absolute folder of a secret, for consumers that mount it (config providers). */
  pathOf(name: string): string {
    return this.dir(name);
  }

  /**
   * Keys are files, written one by one: a read racing a write can see a key vanish (ENOENT)
   * or a mix of two versions. Every write ends with a version marker (the content's
   * fingerprint), so a read counts only when what it read matches the marker (two agreeing
   * reads for a secret written before the marker existed); else it backs off and reads again
   * (≤ 50 times, ≈ 1 s) before giving up.
   */
  async read(name: string): Promise<StoredSecret | undefined> {
    let previous: StoredSecret | undefined | null = null;
    for (let attempt = 1; ; attempt++) {
      try {
        const { secret: now, writtenVersion } = await this.readOnce(name);
        // a complete write leaves the version marker last: content matching it is one whole version
        if (writtenVersion !== undefined && now?.info.fingerprint === writtenVersion) return now;
        // no marker (a secret from before it existed): two reads in a row that agree
        if (writtenVersion === undefined && previous !== null && previous?.info.fingerprint === now?.info.fingerprint)
          return now;
        previous = now;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        previous = null;
      }
      if (attempt >= 50) throw new Error(`secret ${name} kept changing while it was read (50 attempts)`);
      await new Promise((r) => setTimeout(r, Math.min(attempt, 10) * 2));
    }
  }

  private async readOnce(name: string): Promise<{ secret: StoredSecret | undefined; writtenVersion?: string }> {
    const dir = this.dir(name);
    let entries: string[];
    try {
      entries = await fs.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { secret: undefined };
      throw err;
    }
    const writtenVersion = await fs.readFile(path.join(dir, VERSION), 'utf8').catch(() => undefined);
    const bytes: SecretBytes = {};
    for (const key of entries.filter((e) => KEY.test(e) && !e.startsWith('.')).sort()) {
      bytes[key] = await fs.readFile(path.join(dir, key));
    }
    let annotations: Record<string, string> = {};
    try {
      annotations = JSON.parse(await fs.readFile(path.join(dir, META), 'utf8')) as Record<string, string>;
    } catch {
      // no metadata yet: a secret written by hand
    }
    const fp = fingerprint(bytes);
    return {
      secret: {
        data: toText(bytes),
        bytes,
        info: { name, keys: Object.keys(bytes), fingerprint: fp, version: fp, annotations },
      },
      writtenVersion,
    };
  }

  async write(name: string, values: SecretData | SecretBytes, options: WriteOptions = {}): Promise<SecretInfo> {
    const dir = this.dir(name);
    const given = toBytes(values);
    const current = options.mergeKeys || options.expectedVersion !== undefined ? await this.read(name) : undefined;
    const data: SecretBytes = options.mergeKeys ? { ...(current?.bytes ?? {}), ...given } : given;
    for (const key of Object.keys(data))
      if (!KEY.test(key) || key.startsWith('.'))
        throw new Error(`invalid key ${JSON.stringify(key)} for secret ${name}`);
    if (options.expectedVersion !== undefined) {
      const actual = current?.info.version ?? null;
      if (actual !== options.expectedVersion) throw new SecretConflictError(name, options.expectedVersion, actual);
    }
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [key, value] of Object.entries(data)) await atomicWrite(path.join(dir, key), value);
    // keys absent from the new version are removed so the folder mirrors `data`
    for (const existing of await fs.readdir(dir)) {
      if (!existing.startsWith('.') && !(existing in data)) await fs.rm(path.join(dir, existing), { force: true });
    }
    const annotations = options.annotations ?? {};
    await atomicWrite(path.join(dir, META), JSON.stringify(annotations));
    const fp = fingerprint(data);
    // written last: a reader takes the keys only when they match it (one whole version, never a mix)
    await atomicWrite(path.join(dir, VERSION), fp);
    return { name, keys: Object.keys(data).sort(), fingerprint: fp, version: fp, annotations };
  }

  async remove(name: string): Promise<void> {
    await fs.rm(this.dir(name), { recursive: true, force: true });
  }
}

async function atomicWrite(file: string, content: string | Buffer): Promise<void> {
  const tmp = path.join(path.dirname(file), `.tmp-${path.basename(file)}-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(tmp, content, { mode: 0o600 });
  await fs.rename(tmp, file);
}
