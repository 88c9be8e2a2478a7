import { z } from 'zod';
import { MAX_GRACE_MS, parseIsoDuration } from '../rotation/duration.js';

/** What a schedule can run: each rotation procedure, the access validation, and the certificate renewal scan. */
export const scheduledRotations = ['postgresql-cdc', 'schema-registry', 'aws-keys'] as const;
export const scheduledProcedures = [...scheduledRotations, 'validation', 'certificate-renewal'] as const;
export type ScheduledProcedure = (typeof scheduledProcedures)[number];
export type ScheduledRotation = (typeof scheduledRotations)[number];

const isoDuration = (max: number, example: string) =>
  z
    .string()
    .max(40)
    .refine((v) => {
      const ms = parseIsoDuration(v);
      return ms !== undefined && ms > 0 && ms <= max;
    }, `must be a positive ISO-8601 duration (at most ${Math.round(max / 3_600_000)} h), such as ${example}`);

/**
 * The maintenance window, relative to the schedule's nominal time: a 02:00 UTC action with
 * `length: PT2H` must reach its switch by 04:00 UTC (a late catch-up run included).
 */
export const ScheduleWindow = z
  .object({
    length: isoDuration(12 * 3_600_000, 'PT2H').describe('from the scheduled time to the last moment a switch may start'),
    stagingBudget: isoDuration(2 * 3_600_000, 'PT10M').default('PT10M').describe('staging is not started when less than this is left'),
  })
  .strict();

/** Input of `runScheduled`, the workflow a Schedule starts (plain JSON, so `temporal schedule create` can use it too). */
export const ScheduledRunInput = z
  .object({
    schedule: z.string().min(1).max(100).describe('the schedule id (for the audit and the Web UI)'),
    procedure: z.enum(scheduledProcedures),
    input: z.record(z.string(), z.unknown()).describe("the procedure's input; a rotation's names its secret, so the rotation's id is known before it starts"),
    maintenanceWindow: ScheduleWindow.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.procedure === 'validation' || v.procedure === 'certificate-renewal') return;
    for (const key of ['target', 'secret'] as const) {
      const x = v.input[key];
      if (typeof x !== 'string' || x.length === 0 || x.length > 63) ctx.addIssue({ code: 'custom', path: ['input', key], message: 'a rotation needs it: a name of at most 63 characters' });
    }
  });

export type ScheduledRunInput = z.input<typeof ScheduledRunInput>;
export type ScheduledRunPlan = z.output<typeof ScheduledRunInput>;

/** Longest a window may be: a rotation's grace bound is far longer, so this only catches typos. */
export const MAX_WINDOW_MS = Math.min(12 * 3_600_000, MAX_GRACE_MS);
