import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { heldActivities } from '../../stack/faultHold.js';
import type { ProcedureName } from './procedures.js';
import { runCell, type CellResult, type Harness } from './run.js';
import { SupervisedWorker } from './workerProcess.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Highest attempt each activity type reached, from the history (≥ 2: the killed attempt was retried). */
async function attemptsByActivity(handle: WorkflowHandle): Promise<Record<string, number>> {
  const typeOf = new Map<string, string>();
  const attempts: Record<string, number> = {};
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const type = typeOf.get(String(started.scheduledEventId)) ?? '?';
      attempts[type] = Math.max(attempts[type] ?? 0, started.attempt ?? 1);
    }
  }
  return attempts;
}

/**
 * Worker SIGKILL inside every activity of one rotation: the worker parks the first attempt of
 * each activity type after its work is done (scripts/stack/faultHold.ts), the sweep kills it
 * there and starts a new one, which parks at the next activity, and so on. One row per
 * activity: the rotation's end state, the retried attempt, and how long the kill cost.
 */
export async function runKillSweep(
  h: Harness,
  procedure: ProcedureName,
  opts: { hold?: string[]; input?: Record<string, unknown>; workerEnv: NodeJS.ProcessEnv },
): Promise<CellResult[]> {
  const holdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-hold-'));
  const taskQueue = `${h.taskQueue}-kill-${procedure}-${randomBytes(2).toString('hex')}`;
  const worker = new SupervisedWorker(taskQueue, path.join(h.cfg.logDir, `${taskQueue}.log`), {
    ...opts.workerEnv,
    REKEY_FAULT_HOLD: (opts.hold ?? ['*']).join(','),
    REKEY_FAULT_HOLD_DIR: holdDir,
  });
  const kills: Array<{ activities: string[]; at: number }> = [];
  let handle: WorkflowHandle | undefined;
  worker.start();
  try {
    const whole = await runCell(
      { ...h, worker, taskQueue },
      {
        procedure,
        fault: 'worker SIGKILL',
        // at once: a phase can pass between two progress polls on an idle machine (CI saw no kill at all)
        step: 'start',
        input: opts.input,
        timeoutMs: 900_000,
        async inject(cx) {
          handle = cx.handle;
          const killed = new Set<string>();
          let ended = false;
          void cx.handle
            .result()
            .finally(() => (ended = true))
            .catch(() => undefined);
          // until the run ends (a describe that fails under load must not end the sweep early)
          while (!ended) {
            await sleep(150);
            const fresh = heldActivities(holdDir).filter(
              (a) => !killed.has(a.activityType) && a.workflowId === cx.handle.workflowId,
            );
            if (fresh.length === 0) continue;
            await sleep(100); // parallel activities (pre-flight reads) park together: one kill for all of them
            const all = heldActivities(holdDir).filter(
              (a) => !killed.has(a.activityType) && a.workflowId === cx.handle.workflowId,
            );
            await worker.restart();
            all.forEach((a) => killed.add(a.activityType));
            kills.push({ activities: all.map((a) => a.activityType), at: Date.now() });
          }
          return `${kills.length} kills`;
        },
      },
    );
    const attempts = handle ? await attemptsByActivity(handle) : {};
    if (kills.length === 0)
      return [
        {
          ...whole,
          step: opts.hold?.join(',') ?? '*',
          ok: false,
          problems: [...whole.problems, 'no activity was held: the worker was never killed'],
        },
      ];
    const endAt = Date.now();
    return kills.flatMap((k, i) =>
      k.activities.map((activity) => {
        const retried = (attempts[activity] ?? 0) >= 2;
        const problems = [...whole.problems, ...(retried ? [] : [`${activity}: no retried attempt in the history`])];
        const seconds = Math.round(((kills[i + 1]?.at ?? endAt) - k.at) / 1000);
        return {
          ...whole,
          step: activity,
          ok: whole.ok && retried,
          problems,
          seconds,
          detail: `attempt ${attempts[activity] ?? '?'}; rotation ${whole.outcome} in ${whole.seconds} s`,
        };
      }),
    );
  } finally {
    await worker.kill();
    fs.rmSync(holdDir, { recursive: true, force: true });
  }
}
