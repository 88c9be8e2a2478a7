import type pg from 'pg';
import { activityInfo, ApplicationFailure } from '@temporalio/activity';

/** The comment a role created by a rotation carries: `rekey:rotation=<rotationId>`. */
export const ROTATION_TAG = 'rekey:rotation=';

export const rotationTag = (rotationId: string) => `${ROTATION_TAG}${rotationId}`;

export function parseRotationTag(comment: string | null | undefined): string | null {
  return comment?.startsWith(ROTATION_TAG) ? comment.slice(ROTATION_TAG.length) : null;
}

/** Rotation ids are workflow ids: printable, bounded. They go into a comment as an escaped literal. */
export function assertRotationId(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || /[\x00-\x1f\x7f]/.test(value)) {
    throw ApplicationFailure.nonRetryable('rotationId must be 1–200 printable characters', 'InvalidInput');
  }
}

/**
 * `rolvaliduntil` as the activities report it: ISO 8601 in UTC with microseconds,
 * null for "no limit" (NULL or 'infinity'), '-infinity' for "always expired".
 */
export const VALID_UNTIL_SQL = `CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL
            WHEN r.rolvaliduntil = '-infinity' THEN '-infinity'
            ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END`;

export interface RoleRow {
  oid: number;
  canLogin: boolean;
  replication: boolean;
  superuser: boolean;
  validUntil: string | null;
  comment: string | null;
}

export async function lookupRole(c: pg.Client, role: string): Promise<RoleRow | undefined> {
  const { rows } = await c.query<{
    oid: number;
    rolcanlogin: boolean;
    rolreplication: boolean;
    rolsuper: boolean;
    valid_until: string | null;
    comment: string | null;
  }>(
    `SELECT r.oid::int AS oid, r.rolcanlogin, r.rolreplication, r.rolsuper, ${VALID_UNTIL_SQL} AS valid_until,
            shobj_description(r.oid, 'pg_authid') AS comment
       FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  const r = rows[0];
  return (
    r && {
      oid: r.oid,
      canLogin: r.rolcanlogin,
      replication: r.rolreplication,
      superuser: r.rolsuper,
      validUntil: r.valid_until,
      comment: r.comment,
    }
  );
}

export async function roleExists(c: pg.Client, role: string): Promise<boolean> {
  return ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;
}

export async function assertParentExists(c: pg.Client, parentRole: string): Promise<void> {
  if (!(await roleExists(c, parentRole)))
    throw ApplicationFailure.nonRetryable(`parent role ${parentRole} does not exist`, 'ParentRoleMissing');
}

/** Retiring a superuser (the admin login among them) or the parent itself is never what a rotation means. */
export function assertRetirable(role: string, parentRole: string, row: RoleRow): void {
  if (role === parentRole)
    throw ApplicationFailure.nonRetryable(
      `role ${role} is the parent role; only its login members are retired`,
      'InvalidInput',
    );
  if (row.superuser)
    throw ApplicationFailure.nonRetryable(
      `role ${role} is a superuser; rekey does not lock out or drop superusers`,
      'RefusedSuperuser',
    );
}

/** Role of the walsender serving `slot`, or null when the slot is idle or absent. */
export async function slotStreamer(c: pg.Client, slot: string): Promise<string | null> {
  const { rows } = await c.query<{ usename: string | null }>(
    `SELECT r.usename FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
    [slot],
  );
  return rows[0]?.usename ?? null;
}

/** Walsenders (any slot, or physical replication) running as `role`. */
export async function walsendersOf(c: pg.Client, role: string): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'walsender'`,
    [role],
  );
  return rows[0]?.n ?? 0;
}

/** Details the previous attempt of this activity heartbeated (undefined outside an activity or on attempt 1). */
export function priorHeartbeat<T>(): Partial<T> | undefined {
  try {
    return activityInfo().heartbeatDetails as Partial<T> | undefined;
  } catch {
    return undefined;
  }
}

/** The id of the workflow that scheduled this activity (undefined outside an activity). */
export function currentWorkflowId(): string | undefined {
  try {
    return activityInfo().workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}
