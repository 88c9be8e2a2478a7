import type pg from 'pg';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { assertIdentifier, pgCode, type Connections } from './connection.js';
import {
  assertParentExists,
  assertRotationId,
  currentWorkflowId,
  lookupRole,
  parseRotationTag,
  priorHeartbeat,
  rotationTag,
} from './roleInfo.js';
import { scramSha256Verifier } from './scram.js';

export interface RoleInfo {
  name: string;
  exists: boolean;
  canLogin: boolean;
  replication: boolean;
  /** Roles this role is a direct member of, sorted. */
  memberOf: string[];
  /** ISO 8601 (UTC), or null when the password never expires (no VALID UNTIL, or 'infinity'). */
  validUntil: string | null;
  /**
   * Privileges granted to this role itself (not through a parent, not PUBLIC, not an
   * owner's implicit ones), sorted: `schema.table:PRIV` for tables, views and sequences
   * of the activities' database, `schema:<name>:PRIV`, `database:<name>:PRIV`.
   */
  directGrants: string[];
  /** The rotation whose comment the role carries (`rekey:rotation=<id>`), or null. */
  createdByRotation: string | null;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/;

function validUntilLiteral(c: pg.Client, until: string | null): string {
  if (until === null || until === 'infinity') return c.escapeLiteral('infinity');
  if (until === '-infinity') return c.escapeLiteral('-infinity');
  if (typeof until !== 'string' || !ISO_TIMESTAMP.test(until) || Number.isNaN(Date.parse(until))) {
    throw ApplicationFailure.nonRetryable(
      `until ${JSON.stringify(until)} is not an ISO 8601 timestamp with a zone (or null for no limit)`,
      'InvalidInput',
    );
  }
  return c.escapeLiteral(until);
}

export function createRoleActivities(conns: Connections) {
  async function convergeRole(c: pg.Client, role: string, verifier: string, parentRole: string): Promise<void> {
    const ident = c.escapeIdentifier(role);
    await c.query(`ALTER ROLE ${ident} WITH LOGIN REPLICATION PASSWORD ${c.escapeLiteral(verifier)}`);
    await c.query(`GRANT ${c.escapeIdentifier(parentRole)} TO ${ident}`);
  }

  /**
   * Creates the login role named in a secret (`db-username`), with the secret's
   * `db-password` sent only as a SCRAM-SHA-256 verifier computed here, as a member of
   * `parentRole`, tagged `rekey:rotation=<rotationId>` in the same transaction.
   * A retry of the same rotation converges (created: false); a role that exists for
   * any other reason is refused untouched (`RoleExists`).
   *
   * `rotationId` is required of new callers; workflows started before the rotation kit
   * omit it, and then the calling workflow's id is used.
   */
  async function createRoleFromSecret(input: {
    secret: string;
    parentRole: string;
    rotationId?: string;
  }): Promise<{ role: string; created: boolean }> {
    assertIdentifier('parentRole', input.parentRole);
    const rotationId = input.rotationId ?? currentWorkflowId();
    assertRotationId(rotationId);
    const login = await conns.readLogin(input.secret, 'db-username', 'db-password');
    const role = login.user;
    assertIdentifier('new user', role);
    const verifier = scramSha256Verifier(login.password);
    return conns.withAdmin(async (c) => {
      await assertParentExists(c, input.parentRole);
      for (let attempt = 0; attempt < 2; attempt++) {
        const existing = await lookupRole(c, role);
        if (existing) {
          const owner = parseRotationTag(existing.comment);
          if (owner !== rotationId) {
            throw ApplicationFailure.nonRetryable(
              `role ${role} exists and was not created by rotation ${rotationId}; nothing was changed`,
              'RoleExists',
            );
          }
          await convergeRole(c, role, verifier, input.parentRole);
          return { role, created: false };
        }
        const ident = c.escapeIdentifier(role);
        try {
          await c.query('BEGIN');
          await c.query(
            `CREATE ROLE ${ident} WITH LOGIN REPLICATION PASSWORD ${c.escapeLiteral(verifier)} IN ROLE ${c.escapeIdentifier(input.parentRole)}`,
          );
          await c.query(`COMMENT ON ROLE ${ident} IS ${c.escapeLiteral(rotationTag(rotationId))}`);
          await c.query('COMMIT');
          return { role, created: true };
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          // created concurrently (42710 duplicate_object, or 23505 on pg_authid): look again
          if (pgCode(err) !== '42710' && pgCode(err) !== '23505') throw err;
        }
      }
      throw ApplicationFailure.retryable(
        `role ${role} appeared and disappeared concurrently`,
        'RoleChangedConcurrently',
      );
    });
  }

  async function describeRole(input: { role: string }): Promise<RoleInfo> {
    return conns.withAdmin(async (c) => {
      const row = await lookupRole(c, input.role);
      if (!row)
        return {
          name: input.role,
          exists: false,
          canLogin: false,
          replication: false,
          memberOf: [],
          validUntil: null,
          directGrants: [],
          createdByRotation: null,
        };
      const m = await c.query<{ parent: string }>(
        `SELECT p.rolname AS parent FROM pg_auth_members am JOIN pg_roles p ON p.oid = am.roleid WHERE am.member = $1`,
        [row.oid],
      );
      const g = await c.query<{ grant: string }>(
        `SELECT format('%s.%s:%s', n.nspname, k.relname, a.privilege_type) AS grant
           FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace CROSS JOIN LATERAL aclexplode(k.relacl) a
          WHERE a.grantee = $1 AND a.grantee <> k.relowner
         UNION
         SELECT format('schema:%s:%s', n.nspname, a.privilege_type)
           FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a WHERE a.grantee = $1 AND a.grantee <> n.nspowner
         UNION
         SELECT format('database:%s:%s', d.datname, a.privilege_type)
           FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a WHERE a.grantee = $1 AND a.grantee <> d.datdba`,
        [row.oid],
      );
      return {
        name: input.role,
        exists: true,
        canLogin: row.canLogin,
        replication: row.replication,
        memberOf: m.rows.map((x) => x.parent).sort(),
        validUntil: row.validUntil,
        directGrants: g.rows.map((x) => x.grant).sort(),
        createdByRotation: parseRotationTag(row.comment),
      };
    });
  }

  /**
   * Sets (or, as a compensation, restores) when a role's password stops being accepted;
   * null = no limit. Returns the value it replaced. A retry after a crash reports the
   * value the first attempt found (carried in the heartbeat details), not its own write.
   */
  async function limitRoleValidity(input: {
    role: string;
    until: string | null;
  }): Promise<{ previous: string | null }> {
    assertIdentifier('role', input.role);
    return conns.withAdmin(async (c) => {
      const literal = validUntilLiteral(c, input.until);
      const row = await lookupRole(c, input.role);
      if (!row)
        throw ApplicationFailure.nonRetryable(
          `role ${input.role} does not exist; its validity cannot be changed`,
          'RoleMissing',
        );
      const carried = priorHeartbeat<{ previous: string | null }>();
      const previous = carried && 'previous' in carried ? (carried.previous ?? null) : row.validUntil;
      heartbeat({ previous });
      await c.query(`ALTER ROLE ${c.escapeIdentifier(input.role)} VALID UNTIL ${literal}`);
      return { previous };
    });
  }

  /** Sessions a role holds, and whether one of them is a walsender. */
  async function roleSessions(input: { role: string }): Promise<{ sessions: number; streaming: boolean }> {
    return conns.withAdmin(async (c) => {
      const { rows } = await c.query<{ sessions: number; walsenders: number }>(
        `SELECT count(*)::int AS sessions, count(*) FILTER (WHERE backend_type = 'walsender')::int AS walsenders
           FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [input.role],
      );
      return { sessions: rows[0]?.sessions ?? 0, streaming: (rows[0]?.walsenders ?? 0) > 0 };
    });
  }

  /** The former name of roleSessions, kept for workflows that call it by that name. */
  const roleActivity = (input: { role: string }) => roleSessions(input);

  return { createRoleFromSecret, describeRole, limitRoleValidity, roleSessions, roleActivity };
}
