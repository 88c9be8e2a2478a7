import { loadStackConfig, pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { siblings } from '../../activities/secrets/store.js';
import type { WorkflowHandle } from '@temporalio/client';
import type { RotationProgress } from '../../workflows/rotationState.js';

export const cfg = loadStackConfig();
export const store = new FileSecretStore(cfg.secretsDir);

/** What an operator would check with psql and kubectl: who streams, which roles exist, what the secrets hold. */
export async function pipelineState() {
  const db = await adminClient(cfg, pipeline.database);
  try {
    const streaming = await db.query<{ usename: string | null }>(
      `SELECT r.usename FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
      [pipeline.slot],
    );
    const roles = await db.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'debezium\\_%' ORDER BY 1`);
    const s = siblings(pipeline.cdcSecret);
    const [current, pending, backup] = await Promise.all([store.read(s.current), store.read(s.pending), store.read(s.backup)]);
    return {
      streamingUser: streaming.rows[0]?.usename ?? null,
      cdcRoles: roles.rows.map((r) => r.rolname),
      secretUser: current?.data['db-username'] ?? null,
      secretFingerprint: current?.info.fingerprint ?? null,
      hasPending: Boolean(pending),
      hasBackup: Boolean(backup),
    };
  } finally {
    await db.end();
  }
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

export async function waitPhase(handle: WorkflowHandle, phase: string, timeoutMs = 120_000): Promise<RotationProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: RotationProgress | undefined;
  while (Date.now() < deadline) {
    last = await handle.query<RotationProgress>('progress').catch(() => last);
    if (last?.phase === phase) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`workflow did not reach phase ${phase} (last: ${last?.phase}, steps: ${last?.steps.map((s) => `${s.name}:${s.outcome}`).join(' ')})`);
}

export async function auditLines(workflowId: string, file: string) {
  const fs = await import('node:fs/promises');
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { workflow_id: string; status: string; action: string; step: string })
    .filter((l) => l.workflow_id === workflowId);
}
