import fs from 'node:fs/promises';
import pg from 'pg';
import type { WorkflowHandle } from '@temporalio/client';
import { loadStackConfig, pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { siblings } from '../../activities/secrets/store.js';
import { progressQuery, type Phase, type RotationProgress, type StepRecord } from '../../workflows/rotation/index.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

export const cfg = loadStackConfig();
export const store = new FileSecretStore(cfg.secretsDir);

async function withAdmin<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = await adminClient(cfg, pipeline.database);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** What an operator would check with psql and kubectl: who streams, which roles exist, what the secrets hold. */
export async function pipelineState() {
  return withAdmin(async (db) => {
    // the walsender of the slot (its active_pid) and the role it runs as
    const streaming = await db.query<{ usename: string | null }>(
      `SELECT r.usename FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
      [pipeline.slot],
    );
    const roles = await db.query<{ rolname: string }>(
      `SELECT rolname FROM pg_roles WHERE rolname LIKE 'debezium\\_%' ORDER BY 1`,
    );
    const s = siblings(pipeline.cdcSecret);
    const [current, pending, backup] = await Promise.all([
      store.read(s.current),
      store.read(s.pending),
      store.read(s.backup),
    ]);
    return {
      streamingUser: streaming.rows[0]?.usename ?? null,
      cdcRoles: roles.rows.map((r) => r.rolname),
      secretUser: current?.data['db-username'] ?? null,
      secretFingerprint: current?.info.fingerprint ?? null,
      hasPending: Boolean(pending),
      hasBackup: Boolean(backup),
    };
  });
}

/**
 * pg_roles.rolvaliduntil of `role`: 'never' when the password never expires (NULL or
 * 'infinity', which PostgreSQL treats alike), undefined when there is no such role.
 */
export async function roleValidUntil(role: string): Promise<Date | 'never' | undefined> {
  return withAdmin(async (db) => {
    const { rows } = await db.query<{ v: Date | number | null }>(
      'SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1',
      [role],
    );
    if (rows.length === 0) return undefined;
    const v = rows[0]!.v;
    return v === null || v === Infinity ? 'never' : (v as Date);
  });
}

/** The roles a clean pipeline has after a rotation to `user`: the parent role and `user`, nothing left behind. */
export const onlyRoles = (user: string | null) => ['debezium_parent', user ?? '(none)'].sort();

/** Backend pids of `role` in pg_stat_activity. */
export async function sessionsOf(role: string): Promise<number[]> {
  return withAdmin(async (db) =>
    (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE usename = $1', [role])).rows.map(
      (r) => r.pid,
    ),
  );
}

/** Opens a plain (non-replication) session as the user a secret version holds, as an attacker with a leaked password would. */
export async function sessionAs(
  secretName: string,
): Promise<{ client: pg.Client; pid: number; user: string; errors: Error[] }> {
  const secret = (await store.read(secretName))!;
  const user = secret.data['db-username']!;
  const client = new pg.Client({
    host: '127.0.0.1',
    port: cfg.ports.postgres,
    database: pipeline.database,
    user,
    password: secret.data['db-password'],
  });
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e)); // the terminated backend is reported here
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return { client, pid, user, errors };
}

/** Polls until the streaming user is `user` (Debezium reconnects asynchronously). */
export async function waitStreaming(user: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await pipelineState();
    if (state.streamingUser === user || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function progressOf(handle: WorkflowHandle): Promise<RotationProgress | undefined> {
  return handle.query(progressQuery).catch(() => undefined);
}

export async function waitProgress(
  handle: WorkflowHandle,
  test: (p: RotationProgress) => boolean,
  what: string,
  timeoutMs = 120_000,
  everyMs = 300,
): Promise<RotationProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: RotationProgress | undefined;
  while (Date.now() < deadline) {
    last = (await progressOf(handle)) ?? last;
    if (last && test(last)) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `workflow did not reach ${what} (last: ${last?.phase}, steps: ${last?.steps.map((s) => `${s.name}:${s.outcome}`).join(' ')})`,
  );
}

export const waitPhase = (handle: WorkflowHandle, phase: Phase, timeoutMs = 120_000) =>
  waitProgress(handle, (p) => p.phase === phase, `phase ${phase}`, timeoutMs);

/** Names of the steps that finished ok, in order (duplicates kept: a step recorded twice shows twice). */
export const okStepNames = (steps: StepRecord[]) =>
  steps.filter((s) => s.outcome === 'ok' && !s.name.startsWith('signal:')).map((s) => s.name);

/**
 * The audit events of one run, in the order the workflow recorded them (appends run in the
 * background, so the file's order may differ; the event id ends in the run's sequence number).
 */
export async function auditLines(handle: WorkflowHandle, file: string) {
  const { firstExecutionRunId: runId } = handle as { firstExecutionRunId?: string };
  const prefix = `${handle.workflowId}/${runId}#`;
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { eventId: string; workflow_id: string; status: string; action: string; step: string })
    .filter((l) => l.eventId.startsWith(prefix))
    .sort((a, b) => Number(a.eventId.slice(prefix.length)) - Number(b.eventId.slice(prefix.length)));
}

/** The failure type of a workflow that failed (undefined if it completed). */
export async function failureOf(handle: WorkflowHandle): Promise<{ type?: string; message?: string } | undefined> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e as { cause?: { type?: string; message?: string } },
  );
  return err?.cause;
}

/**
 * Ends a rotation a failed assertion left running, so it does not hold the secret's workflow
 * id for later tests: cancel (the rotation rolls back) rather than terminate, which would
 * leave its new role and secret versions behind; terminate only if it does not end in time.
 */
export async function stopLeftover(handle: WorkflowHandle | undefined, timeoutMs = 180_000): Promise<void> {
  if (!handle) return;
  await handle.cancel().catch(() => undefined);
  const ended = await Promise.race([
    handle.result().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
  ]);
  if (!ended) await handle.terminate('test ended with the rotation still running').catch(() => undefined);
}

/**
 * A restart-worker rotation pauses the connector; one that a failed test left behind (or
 * terminated) must not leave it paused for the next test file.
 */
export async function resumeIfPaused(): Promise<void> {
  const url = `http://127.0.0.1:${cfg.ports.connect}/connectors/${pipeline.connector}`;
  const status = (await (await connectFetch(`${url}/status`)).json().catch(() => undefined)) as
    { connector?: { state?: string } } | undefined;
  if (status?.connector?.state === 'PAUSED') await connectFetch(`${url}/resume`, { method: 'PUT' });
}
