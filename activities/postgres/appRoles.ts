import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import type pg from 'pg';
import { assertIdentifier, MAX_WAIT_MS, pgCode, type Connections } from './connection.js';
import { assertParentExists, assertRotationId, lookupRole, parseRotationTag, rotationTag } from './roleInfo.js';
import { scramSha256Verifier } from './scram.js';

/** Only these characters in an application_name rekey matches sessions by (it is compared, never interpolated). */
const APPLICATION_NAME = /^[\x20-\x7e]{1,63}$/;

/**
 * An application's PostgreSQL login roles, rotated as alternating users (Vault's static roles,
 * Zalando's `<role><date>` users): every login role is a member of a NOLOGIN owner role that owns
 * the application's objects, and sets that role on login (`ALTER ROLE … SET role`), so what the
 * application creates stays owned by the owner role whichever login created it. The next login
 * role is created beside the current one; the old one is retired after grace.
 */
export function createAppRoleActivities(conns: Connections) {
  /** Whether `role` is a login member of `owner` that sets it on login, and what `owner` is. */
  async function loginShape(c: pg.Client, role: string, owner: string) {
    const { rows } = await c.query<{ member: boolean; sets_owner: boolean; owner_login: boolean | null }>(
      `SELECT pg_has_role($1, $2, 'MEMBER') AS member,
              coalesce((SELECT $2 = ANY (SELECT split_part(x, '=', 2) FROM unnest(s.setconfig) x WHERE x LIKE 'role=%')
                          FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
                         WHERE r.rolname = $1 AND s.setdatabase = 0), false) AS sets_owner,
              (SELECT rolcanlogin FROM pg_roles WHERE rolname = $2) AS owner_login`,
      [role, owner],
    );
    return rows[0]!;
  }

  /** The pre-flight's view: the current login role, its shape, the owner role, and who the application's sessions log in as. */
  async function describeAppLogin(input: { secret: string; ownerRole: string; applicationName: string }) {
    assertIdentifier('ownerRole', input.ownerRole);
    const { user } = await conns.readLogin(input.secret, 'db-username', 'db-password');
    assertIdentifier("the secret's db-username", user);
    return conns.withAdmin(async (c) => {
      const row = await lookupRole(c, user);
      const owner = await lookupRole(c, input.ownerRole);
      const shape = row && owner ? await loginShape(c, user, input.ownerRole) : null;
      return {
        user,
        exists: Boolean(row),
        superuser: row?.superuser ?? false,
        ownerExists: Boolean(owner),
        ownerCanLogin: owner?.canLogin ?? false,
        memberOfOwner: shape?.member ?? false,
        setsOwnerRole: shape?.sets_owner ?? false,
        sessions: await sessionsByUser(c, input.applicationName),
      };
    });
  }

  /**
   * Creates the login role named in `secret` (db-username), with its password sent only as a
   * SCRAM verifier computed here, `IN ROLE owner` and `SET role = owner`, tagged with the
   * rotation in the same transaction. A retry of the same rotation converges; a role that exists
   * for another reason is refused untouched (`RoleExists`).
   */
  async function createAppRole(input: { secret: string; ownerRole: string; rotationId: string }) {
    assertIdentifier('ownerRole', input.ownerRole);
    assertRotationId(input.rotationId);
    const login = await conns.readLogin(input.secret, 'db-username', 'db-password');
    assertIdentifier('new user', login.user);
    const verifier = scramSha256Verifier(login.password);
    return conns.withAdmin(async (c) => {
      await assertParentExists(c, input.ownerRole);
      const ident = c.escapeIdentifier(login.user);
      const owner = c.escapeIdentifier(input.ownerRole);
      const existing = await lookupRole(c, login.user);
      if (existing && parseRotationTag(existing.comment) !== input.rotationId)
        throw ApplicationFailure.nonRetryable(
          `role ${login.user} exists and was not created by rotation ${input.rotationId}; nothing was changed`,
          'RoleExists',
        );
      try {
        await c.query('BEGIN');
        if (existing) await c.query(`ALTER ROLE ${ident} WITH LOGIN PASSWORD ${c.escapeLiteral(verifier)}`);
        else await c.query(`CREATE ROLE ${ident} WITH LOGIN PASSWORD ${c.escapeLiteral(verifier)} IN ROLE ${owner}`);
        await c.query(`GRANT ${owner} TO ${ident}`);
        // what the application creates is owned by the owner role, whichever login created it
        await c.query(`ALTER ROLE ${ident} SET role = ${c.escapeLiteral(input.ownerRole)}`);
        await c.query(`COMMENT ON ROLE ${ident} IS ${c.escapeLiteral(rotationTag(input.rotationId))}`);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (pgCode(err) === '42710' || pgCode(err) === '23505')
          throw ApplicationFailure.retryable(`role ${login.user} was created concurrently`, 'RoleChangedConcurrently');
        throw err;
      }
      return { role: login.user, created: !existing };
    });
  }

  /**
   * Waits until the application's sessions (by application_name) log in as `newUser` only:
   * at least one as it, none as `oldUser`. Heartbeats with the counts.
   */
  async function waitAppSessionsMoved(input: {
    applicationName: string;
    oldUser: string;
    newUser: string;
    timeoutMs: number;
  }): Promise<{ sessions: Record<string, number>; waitedMs: number }> {
    if (!APPLICATION_NAME.test(input.applicationName))
      throw ApplicationFailure.nonRetryable('applicationName: must be 1–63 printable ASCII characters', 'InvalidInput');
    const started = Date.now();
    const deadline = started + Math.min(input.timeoutMs, MAX_WAIT_MS);
    for (;;) {
      const sessions = await conns.withAdmin((c) => sessionsByUser(c, input.applicationName));
      if ((sessions[input.newUser] ?? 0) > 0 && !sessions[input.oldUser])
        return { sessions, waitedMs: Date.now() - started };
      const seen = Object.entries(sessions)
        .map(([u, n]) => `${n} as ${u}`)
        .join(', ');
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `the sessions of application ${input.applicationName} did not move to ${input.newUser}: ${seen || 'none'}`,
          'AppSessionsNotMoved',
        );
      heartbeat(`sessions of ${input.applicationName}: ${seen || 'none'}`);
      await sleep(1000);
    }
  }

  /** The application's sessions now, per login role. */
  async function appSessions(input: { applicationName: string }): Promise<Record<string, number>> {
    return conns.withAdmin((c) => sessionsByUser(c, input.applicationName));
  }

  return { describeAppLogin, createAppRole, waitAppSessionsMoved, appSessions };
}

async function sessionsByUser(c: pg.Client, applicationName: string): Promise<Record<string, number>> {
  const { rows } = await c.query<{ usename: string; n: number }>(
    `SELECT usename, count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = $1 AND backend_type = 'client backend' GROUP BY usename ORDER BY usename`,
    [applicationName],
  );
  return Object.fromEntries(rows.map((r) => [r.usename, r.n]));
}
