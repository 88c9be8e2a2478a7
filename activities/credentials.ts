import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { siblings, type SecretStore } from './secrets/store.js';

/** A CDC credential as the workflow may see it: a user name and a fingerprint, never the password. */
export interface CredentialRef {
  secret: string;
  user: string;
  fingerprint: string;
  /** Which store holds it (`file`, `kubernetes`); set by describeCredential for the pre-flight. */
  store?: string;
}

const USER_KEY = 'db-username';
const PASSWORD_KEY = 'db-password';

/**
 * The keys a credential's secret names its user and password with: `db` (the database
 * users', the default) or `sasl` (a Kafka SCRAM principal's: username, password).
 */
export const credentialKeys = {
  db: { user: USER_KEY, password: PASSWORD_KEY },
  sasl: { user: 'username', password: 'password' },
} as const;
export type CredentialKeys = keyof typeof credentialKeys;

/**
 * The create/set/finish stages of a credential in the secret store, modelled on
 * AWS Secrets Manager's rotation: pending is written first, current is replaced from
 * pending only after a backup exists, and every step can be repeated safely.
 */
export function createCredentialActivities(deps: { store: SecretStore }) {
  const { store } = deps;

  async function must(name: string) {
    const s = await store.read(name);
    if (!s)
      throw ApplicationFailure.nonRetryable(`secret ${name} not found in the ${store.kind} store`, 'SecretMissing');
    return s;
  }

  async function describeCredential(input: { secret: string; keys?: CredentialKeys }): Promise<CredentialRef> {
    const s = await must(input.secret);
    const { user } = credentialKeys[input.keys ?? 'db'];
    return { secret: input.secret, user: s.data[user] ?? '', fingerprint: s.info.fingerprint, store: store.kind };
  }

  /** Generates the new password and writes it to `<secret>-pending`. Repeating it for the same rotation returns the same pending version. */
  async function stagePendingCredential(input: {
    secret: string;
    newUser: string;
    rotationId: string;
    keys?: CredentialKeys;
  }): Promise<CredentialRef> {
    const { pending } = siblings(input.secret);
    const keys = credentialKeys[input.keys ?? 'db'];
    const existing = await store.read(pending);
    if (existing && existing.info.annotations.rotationId === input.rotationId) {
      return { secret: pending, user: existing.data[keys.user] ?? '', fingerprint: existing.info.fingerprint };
    }
    const info = await store.write(
      pending,
      { [keys.user]: input.newUser, [keys.password]: randomBytes(32).toString('base64url') },
      { annotations: { rotationId: input.rotationId, stage: 'pending' } },
    );
    return { secret: pending, user: input.newUser, fingerprint: info.fingerprint };
  }

  async function backupCurrentCredential(input: {
    secret: string;
    rotationId: string;
    keys?: CredentialKeys;
  }): Promise<CredentialRef> {
    const { backup } = siblings(input.secret);
    const { user } = credentialKeys[input.keys ?? 'db'];
    const existing = await store.read(backup);
    if (existing && existing.info.annotations.rotationId === input.rotationId) {
      return { secret: backup, user: existing.data[user] ?? '', fingerprint: existing.info.fingerprint };
    }
    const current = await must(input.secret);
    // every key, byte for byte: restoring the backup must give back exactly this secret
    const info = await store.write(backup, current.bytes, {
      annotations: { rotationId: input.rotationId, stage: 'backup' },
    });
    return { secret: backup, user: current.data[user] ?? '', fingerprint: info.fingerprint };
  }

  /**
   * Writes `from` into the current secret unless it already holds those values; guarded by
   * the current version. `keys`: only these keys change (promote: the credential keys; any
   * other key the pipeline keeps in the secret stays byte for byte); all keys: an exact copy.
   */
  async function copyOverCurrent(
    secret: string,
    from: string,
    rotationId: string,
    stage: string,
    keys?: string[],
    userKey: string = USER_KEY,
  ): Promise<CredentialRef> {
    const source = await must(from);
    if (source.info.annotations.rotationId !== rotationId) {
      throw ApplicationFailure.nonRetryable(
        `secret ${from} belongs to rotation ${source.info.annotations.rotationId ?? '(none)'}, not ${rotationId}`,
        'ForeignSecretVersion',
      );
    }
    const values = keys
      ? Object.fromEntries(keys.filter((k) => k in source.bytes).map((k) => [k, source.bytes[k]!]))
      : source.bytes;
    const current = await store.read(secret);
    const same =
      current &&
      (keys
        ? keys.every((k) => current.bytes[k]?.equals(source.bytes[k] ?? Buffer.alloc(0)) ?? !(k in source.bytes))
        : current.info.fingerprint === source.info.fingerprint);
    if (current && same) return { secret, user: current.data[userKey] ?? '', fingerprint: current.info.fingerprint };
    const info = await store.write(secret, values, {
      expectedVersion: current?.info.version ?? null,
      mergeKeys: Boolean(keys),
      annotations: { rotationId, stage },
    });
    return { secret, user: source.data[userKey] ?? '', fingerprint: info.fingerprint };
  }

  async function promotePendingCredential(input: {
    secret: string;
    rotationId: string;
    keys?: CredentialKeys;
  }): Promise<CredentialRef> {
    const keys = credentialKeys[input.keys ?? 'db'];
    return copyOverCurrent(
      input.secret,
      siblings(input.secret).pending,
      input.rotationId,
      'current',
      [keys.user, keys.password],
      keys.user,
    );
  }

  /**
   * Puts the backup back. Without a backup, current was never replaced (promotion requires one):
   * nothing to restore. `credentialOnly`: only the user and password keys (the backup also holds
   * what must not go back into the live secret, e.g. a role's verifier); else every key, exactly.
   */
  async function restoreBackupCredential(input: {
    secret: string;
    rotationId: string;
    keys?: CredentialKeys;
    credentialOnly?: boolean;
  }): Promise<CredentialRef> {
    if (!(await store.read(siblings(input.secret).backup)))
      return describeCredential({ secret: input.secret, keys: input.keys });
    const { user, password } = credentialKeys[input.keys ?? 'db'];
    const only = input.credentialOnly ? [user, password] : undefined;
    return copyOverCurrent(input.secret, siblings(input.secret).backup, input.rotationId, 'restored', only, user);
  }

  async function removeCredentialVersions(input: {
    secret: string;
    versions: Array<'pending' | 'backup'>;
  }): Promise<void> {
    for (const v of input.versions) await store.remove(siblings(input.secret)[v]);
  }

  return {
    describeCredential,
    stagePendingCredential,
    backupCurrentCredential,
    promotePendingCredential,
    restoreBackupCredential,
    removeCredentialVersions,
  };
}
