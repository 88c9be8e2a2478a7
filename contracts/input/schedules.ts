import { z } from 'zod';
import { MAX_GRACE_MS } from '../duration.js';
import { isoDurationField } from '../durationField.js';

import { scheduledRotations } from '../procedures.js';

export { scheduledRotations };
/** What a schedule can run: each rotation procedure, the access validation, and the certificate renewal scan. */
export const scheduledProcedures = [...scheduledRotations, 'validation', 'certificate-renewal'] as const;
export type ScheduledProcedure = (typeof scheduledProcedures)[number];
export type ScheduledRotation = (typeof scheduledRotations)[number];

const isoDuration = (maxMs: number, example: string) => isoDurationField({ maxMs, example });

/** The runbook's maintenance window: 02:00–04:00 UTC, two hours. */
export const RUNBOOK_WINDOW = { length: 'PT2H', stagingBudget: 'PT10M' } as const;
export const MAX_WINDOW_LENGTH_MS = 2 * 3_600_000;

const windowShape = (maxLengthMs: number) =>
  z
    .object({
      length: isoDuration(maxLengthMs, 'PT2H').describe(
        "from the scheduled time to the last moment a switch may start (at most the runbook's 2 h)",
      ),
      stagingBudget: isoDuration(2 * 3_600_000, 'PT10M')
        .default('PT10M')
        .describe('staging is not started when less than this is left'),
    })
    .strict();

/**
 * The maintenance window, relative to the schedule's nominal time: a 02:00 UTC action with
 * `length: PT2H` must reach its switch by 04:00 UTC (a late catch-up run included). At most
 * the runbook's two hours (what `schedules apply` accepts); a rotation schedule without one
 * gets the runbook's (PT2H).
 */
export const ScheduleWindow = windowShape(MAX_WINDOW_LENGTH_MS);
/** What a run already started may carry (windows up to 12 h were accepted before): parsed on replay, never refused. */
const RecordedScheduleWindow = windowShape(12 * 3_600_000);

/** Input of `runScheduled`, the workflow a Schedule starts (plain JSON, so `temporal schedule create` can use it too). */
export const ScheduledRunInput = z
  .object({
    schedule: z.string().min(1).max(100).describe('the schedule id (for the audit and the Web UI)'),
    procedure: z.enum(scheduledProcedures),
    input: z
      .record(z.string(), z.unknown())
      .describe("the procedure's input; a rotation's names its secret, so the rotation's id is known before it starts"),
    maintenanceWindow: RecordedScheduleWindow.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.procedure === 'validation' || v.procedure === 'certificate-renewal') return;
    for (const key of ['target', 'secret'] as const) {
      const x = v.input[key];
      if (typeof x !== 'string' || x.length === 0 || x.length > 63)
        ctx.addIssue({
          code: 'custom',
          path: ['input', key],
          message: 'a rotation needs it: a name of at most 63 characters',
        });
    }
  });

export type ScheduledRunInput = z.input<typeof ScheduledRunInput>;
export type ScheduledRunPlan = z.output<typeof ScheduledRunInput>;

/** Longest a window may be: a rotation's grace bound is far longer, so this only catches typos. */
export const MAX_WINDOW_MS = Math.min(12 * 3_600_000, MAX_GRACE_MS);
