import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import type pg from 'pg';
import { AUTH_FAILED, type Connections, MAX_WAIT_MS, pgCode } from './connection.js';
import { scramSha256Verifier } from './scram.js';
import type { SecretStore } from '../secrets/store.js';
import { credentialKeys, type CredentialKeys } from '../credentials.js';

/** The key of `<secret>-backup` that holds the role's SCRAM verifier as pg_authid had it before the change. */
export const VERIFIER_KEY = 'scram-verifier';

/**
 * One role's password changed in place (the PostgreSQL superuser, rekey's own admin): one role
 * holds one password, so there is no second user to move to. The exact verifier is backed up
 * first (into `<secret>-backup`, never into history) so a rollback restores it byte for byte.
 * Every session is opened with whichever of the given secrets still logs in: before the change
 * that is the old password, after it the new one, so a retried activity converges.
 */
export function createAdminPasswordActivities(conns: Connections, deps: { store: SecretStore; adminSecret: string }) {
  /** A session as the first of `secrets` whose credential PostgreSQL accepts (a refused one is tried no further). */
  async function asFirstAccepted<T>(secrets: string[], fn: (c: pg.Client, secret: string) => Promise<T>): Promise<T> {
    const refused: string[] = [];
    for (const secret of secrets) {
      let c: pg.Client;
      try {
        c = await conns.connect({ secret });
      } catch (err) {
        if (AUTH_FAILED.has(pgCode(err) ?? '')) {
          refused.push(secret);
          continue;
        }
        throw err;
      }
      try {
        return await fn(c, secret);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
    throw ApplicationFailure.nonRetryable(
      `PostgreSQL refused the credential of every one of ${refused.join(', ')}: the role's password is neither the old nor the new one`,
      'AdminLoginRefused',
    );
  }

  /** What the pre-flight needs: who the secret logs in as, whether its verifier can be backed up, and its other sessions. */
  async function describeAdminRole(input: { secret: string }) {
    return asFirstAccepted([input.secret], async (c) => {
      const who = await c
        .query<{ session_user: string; superuser: boolean; scram: boolean | null }>(
          `SELECT session_user,
                r.rolsuper AS superuser,
                (SELECT a.rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid a WHERE a.rolname = session_user) AS scram
           FROM pg_roles r WHERE r.rolname = session_user`,
        )
        .catch((err: Error) => {
          // only a superuser may read pg_authid: say so instead of failing on the query
          if (pgCode(err) === '42501') return { rows: [{ session_user: '', superuser: false, scram: null }] };
          throw err;
        });
      const row = who.rows[0]!;
      const sessions = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = session_user AND pid <> pg_backend_pid()',
      );
      const rekey = (await deps.store.read(deps.adminSecret))?.data.username ?? null;
      return {
        secret: input.secret,
        user: (await deps.store.read(input.secret))?.data.username ?? '',
        sessionUser: row.session_user || null,
        superuser: row.superuser,
        verifier:
          row.scram === null ? ('unreadable' as const) : row.scram ? ('scram-sha-256' as const) : ('other' as const),
        otherSessions: sessions.rows[0]!.n,
        rekey: { secret: deps.adminSecret, user: rekey },
      };
    });
  }

  /** Copies the role's current verifier into `<secret>-backup` (merged; idempotent: an existing copy is kept). */
  async function backupRoleVerifier(input: { secret: string; role: string }): Promise<{ saved: boolean }> {
    const backup = `${input.secret}-backup`;
    const current = await deps.store.read(backup);
    if (!current)
      throw ApplicationFailure.nonRetryable(`secret ${backup} not found: back the secret up first`, 'SecretMissing');
    if (current.data[VERIFIER_KEY]) return { saved: false };
    const verifier = await asFirstAccepted([input.secret], async (c) => {
      const r = await c.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
        input.role,
      ]);
      return r.rows[0]?.rolpassword ?? null;
    });
    if (!verifier?.startsWith('SCRAM-SHA-256$'))
      throw ApplicationFailure.nonRetryable(
        `role ${input.role} has no SCRAM-SHA-256 verifier to back up`,
        'NoVerifier',
      );
    // the backup's annotations (its rotation) stay: a restore checks them
    await deps.store.write(
      backup,
      { [VERIFIER_KEY]: verifier },
      { expectedVersion: current.info.version, mergeKeys: true, annotations: current.info.annotations },
    );
    return { saved: true };
  }

  /** ALTER ROLE … PASSWORD with `verifier`, in a session as whichever of `logins` still works. */
  async function alterPassword(role: string, verifier: string, logins: string[]): Promise<{ as: string }> {
    return asFirstAccepted(logins, async (c, secret) => {
      await c.query(`ALTER ROLE ${c.escapeIdentifier(role)} PASSWORD ${c.escapeLiteral(verifier)}`);
      return { as: secret };
    });
  }

  /** Sets the role's password to the one in `<secret>-pending` (a verifier computed here: the password never reaches the server). */
  async function setRolePassword(input: { secret: string; role: string }): Promise<{ as: string }> {
    const pending = await deps.store.read(`${input.secret}-pending`);
    if (!pending?.data.password)
      throw ApplicationFailure.nonRetryable(`secret ${input.secret}-pending has no password`, 'SecretMissing');
    // the new password first: after a crash past the ALTER, only it logs in
    return alterPassword(input.role, scramSha256Verifier(pending.data.password), [
      `${input.secret}-pending`,
      `${input.secret}-backup`,
    ]);
  }

  /** Puts back the exact verifier of `<secret>-backup`: the old password logs in again, the new one no more. */
  async function restoreRoleVerifier(input: {
    secret: string;
    role: string;
    rotationId?: string;
  }): Promise<{ as: string } | null> {
    const backup = await deps.store.read(`${input.secret}-backup`);
    const verifier = backup?.data[VERIFIER_KEY];
    if (!verifier) return null; // never backed up: the password was never changed
    // only the verifier this rotation backed up, in PostgreSQL's SCRAM format, ever becomes the role's password
    if (input.rotationId && backup.info.annotations.rotationId !== input.rotationId)
      throw ApplicationFailure.nonRetryable(
        `secret ${input.secret}-backup belongs to rotation ${backup.info.annotations.rotationId ?? '(none)'}, not ${input.rotationId}: not restoring it`,
        'ForeignSecretVersion',
      );
    if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier))
      throw ApplicationFailure.nonRetryable(
        `the verifier in ${input.secret}-backup is not a SCRAM-SHA-256 verifier`,
        'NoVerifier',
      );
    return alterPassword(input.role, verifier, [`${input.secret}-backup`, `${input.secret}-pending`, input.secret]);
  }

  /** Sessions of `role` that started before `before` and are still connected (a password change must not cut them). */
  async function roleSessionsSince(input: { role: string; before: string }): Promise<{ kept: number; total: number }> {
    return conns.withAdmin(async (c) => {
      const r = await c.query<{ kept: number; total: number }>(
        `SELECT count(*) FILTER (WHERE backend_start < $2::timestamptz)::int AS kept, count(*)::int AS total
           FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [input.role, input.before],
      );
      return r.rows[0]!;
    });
  }

  /** Compromise: every other session of the role (an attacker's among them) is ended. */
  async function terminateRoleSessions(input: { role: string; before?: string }): Promise<{ terminated: number }> {
    return conns.withAdmin(async (c) => {
      // only sessions opened before the change (with the old password): not the new ones, rekey's among them
      const r = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE usename = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
             AND ($2::timestamptz IS NULL OR backend_start < $2::timestamptz)) t`,
        [input.role, input.before ?? null],
      );
      return { terminated: r.rows[0]!.n };
    });
  }

  /** Waits until a new session with the credential in `secret` is accepted or refused, as expected. */
  async function waitPostgresLogin(input: {
    secret: string;
    expect: 'accepted' | 'refused';
    timeoutMs: number;
    /** The secret's key names: `sasl` (username/password, the default) or `db` (db-username/db-password). */
    keys?: CredentialKeys;
  }) {
    const { user: userKey, password: passwordKey } = credentialKeys[input.keys ?? 'sasl'];
    const started = Date.now();
    const deadline = started + Math.min(input.timeoutMs, MAX_WAIT_MS);
    for (;;) {
      let outcome: 'accepted' | 'refused';
      try {
        const c = await conns.connect({ secret: input.secret, userKey, passwordKey });
        await c.end().catch(() => undefined);
        outcome = 'accepted';
      } catch (err) {
        if (!AUTH_FAILED.has(pgCode(err) ?? '')) throw err;
        outcome = 'refused';
      }
      if (outcome === input.expect) return { secret: input.secret, outcome, waitedMs: Date.now() - started };
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `a login with ${input.secret} was ${outcome}, expected ${input.expect}`,
          'PostgresLoginUnexpected',
        );
      heartbeat(`login with ${input.secret}: ${outcome}, waiting for ${input.expect}`);
      await sleep(500);
    }
  }

  return {
    describeAdminRole,
    backupRoleVerifier,
    setRolePassword,
    restoreRoleVerifier,
    roleSessionsSince,
    terminateRoleSessions,
    waitPostgresLogin,
  };
}
