import {
  type Client,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
} from '@temporalio/client';
import { loadScheduleFile, SCHEDULE_ID_PREFIX, scheduleOptions } from './file.js';

export interface ApplyChange {
  id: string;
  change: 'created' | 'updated' | 'unchanged' | 'deleted';
}

/**
 * Makes the server's schedules match the file: creates missing ones, updates changed ones
 * (keeping an operator's pause and its note), leaves identical ones untouched, and with
 * `prune` deletes rekey's schedules the file no longer lists. The file is validated first.
 */
export async function applySchedules(
  client: Client,
  file: string,
  o: { taskQueue: string; prune?: boolean },
): Promise<ApplyChange[]> {
  const parsed = loadScheduleFile(file);
  const changes: ApplyChange[] = [];
  for (const entry of parsed.schedules) {
    const { options, digest } = scheduleOptions(parsed, entry, o.taskQueue);
    const handle = client.schedule.getHandle(options.scheduleId);
    const current = await handle.describe().catch((err: unknown) => {
      if (err instanceof ScheduleNotFoundError) return null;
      throw err;
    });
    if (!current) {
      await client.schedule.create({ ...options, state: { note: `created by rekey schedules apply from ${file}` } });
      changes.push({ id: options.scheduleId, change: 'created' });
    } else if (current.action.type === 'startWorkflow' && current.action.memo?.rekeyDigest === digest) {
      changes.push({ id: options.scheduleId, change: 'unchanged' });
    } else {
      await handle.update((prev) => ({
        spec: options.spec,
        action: options.action,
        policies: options.policies,
        state: prev.state,
      }));
      changes.push({ id: options.scheduleId, change: 'updated' });
    }
  }
  if (o.prune) {
    const wanted = new Set(parsed.schedules.map((s) => `${SCHEDULE_ID_PREFIX}${s.id}`));
    for (const id of await rekeyScheduleIds(client)) {
      if (wanted.has(id)) continue;
      await client.schedule.getHandle(id).delete();
      changes.push({ id, change: 'deleted' });
    }
  }
  return changes;
}

async function rekeyScheduleIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) ids.push(s.scheduleId);
  return ids.sort();
}

export interface ScheduleRow {
  id: string;
  procedure: string;
  description: string;
  paused: boolean;
  note: string;
  nextRuns: string[];
  lastRun: { scheduledAt: string; startedAt: string; workflowId: string } | null;
  overlap: string;
  catchupWindowMs: number;
}

/** rekey's schedules with the next run times the server computed. */
export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for (const id of await rekeyScheduleIds(client)) rows.push(toRow(id, await client.schedule.getHandle(id).describe()));
  return rows;
}

function toRow(id: string, d: ScheduleDescription): ScheduleRow {
  const args =
    d.action.type === 'startWorkflow' ? (d.action.args?.[0] as { procedure?: string } | undefined) : undefined;
  const last = d.info.recentActions.at(-1);
  return {
    id,
    procedure: args?.procedure ?? '?',
    description: String(d.memo?.description ?? ''),
    paused: d.state.paused,
    note: d.state.note ?? '',
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    lastRun: last
      ? {
          scheduledAt: last.scheduledAt.toISOString(),
          startedAt: last.takenAt.toISOString(),
          workflowId: last.action.workflow.workflowId,
        }
      : null,
    overlap: String(d.policies.overlap),
    catchupWindowMs: d.policies.catchupWindow,
  };
}

const scheduleId = (id: string) => (id.startsWith(SCHEDULE_ID_PREFIX) ? id : `${SCHEDULE_ID_PREFIX}${id}`);

/** Pause with a note saying why (shown by `schedules list` and the Web UI). */
export async function pauseSchedule(client: Client, id: string, note: string): Promise<void> {
  await client.schedule.getHandle(scheduleId(id)).pause(note);
}

export async function unpauseSchedule(client: Client, id: string, note: string): Promise<void> {
  await client.schedule.getHandle(scheduleId(id)).unpause(note);
}

/** Runs the schedule's action now, with its own overlap rule (SKIP: nothing happens while the previous run is still open). */
export async function triggerSchedule(client: Client, id: string): Promise<void> {
  await client.schedule.getHandle(scheduleId(id)).trigger(ScheduleOverlapPolicy.SKIP);
}
