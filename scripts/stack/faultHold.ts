import fs from 'node:fs';
import path from 'node:path';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** A hold the fault matrix saw: the activity that is parked, waiting for the worker to be killed. */
export interface HeldActivity {
  activityType: string;
  attempt: number;
  workflowId: string;
  when: 'before' | 'after';
  at: string;
}

/**
 * Development-worker hook for the fault matrix (test workers only): parks the first successful
 * (or, `before`, the first) attempt of each named activity type — after it did its work (`after`, the default: the side effect
 * happened, its completion is lost with the worker) or before — and drops a marker file
 * `<dir>/<activityType>.json`, so a test knows the worker is inside that activity and kills it
 * there. A type whose marker exists runs normally: the restarted worker (same environment)
 * goes on to hold the next activity, so one rotation sweeps every step.
 * Env: REKEY_FAULT_HOLD (comma list of activity types, or `*` for every non-local one),
 * REKEY_FAULT_HOLD_DIR, REKEY_FAULT_HOLD_WHEN (after|before). With REKEY_FAULT_HOLD_RELEASE=true
 * the hold is a pause instead: the activity goes on once `<dir>/<activityType>.release` exists
 * (a cell parks the step, starts its fault, then lets the step run into it).
 */
export function faultHoldFromEnv(env: NodeJS.ProcessEnv = process.env): ActivityInterceptorsFactory | undefined {
  const list = env.REKEY_FAULT_HOLD?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const dir = env.REKEY_FAULT_HOLD_DIR;
  if (!list?.length || !dir) return undefined;
  const when = env.REKEY_FAULT_HOLD_WHEN === 'before' ? 'before' : 'after';
  const pause = env.REKEY_FAULT_HOLD_RELEASE === 'true';
  fs.mkdirSync(dir, { recursive: true });
  const wanted = (type: string, local: boolean) => list.includes(type) || (list.includes('*') && !local);
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const { activityType, attempt, isLocal, workflowExecution } = ctx.info;
        // any attempt: a first attempt that fails (a retryable wait) must not skip the hold; the marker holds each type once
        if (!wanted(activityType, isLocal)) return next(input);
        const result = when === 'after' ? await next(input) : undefined;
        const held: HeldActivity = {
          activityType,
          attempt,
          workflowId: workflowExecution?.workflowId ?? '',
          when,
          at: new Date().toISOString(),
        };
        try {
          fs.writeFileSync(path.join(dir, `${activityType}.json`), JSON.stringify(held), { flag: 'wx' });
        } catch {
          // held once already (by this worker or the one before): run on
          return when === 'after' ? result : next(input);
        }
        if (pause) {
          await released(path.join(dir, `${activityType}.release`));
          return when === 'after' ? result : next(input);
        }
        // parked until the test kills this process; if it never does, the activity's timeout retries it
        return new Promise<never>(() => undefined);
      },
    },
  });
}

async function released(file: string): Promise<void> {
  while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 100));
}

/** Lets a paused activity go on (REKEY_FAULT_HOLD_RELEASE). */
export function releaseHeld(dir: string, activityType: string): void {
  fs.writeFileSync(path.join(dir, `${activityType}.release`), '');
}

/** Markers written so far, oldest first. */
export function heldActivities(dir: string): HeldActivity[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as HeldActivity)
    .sort((a, b) => a.at.localeCompare(b.at));
}
