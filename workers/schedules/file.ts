import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { CalendarSpec, DayOfWeek, Month, ScheduleOptions } from '@temporalio/client';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InvalidInputError } from '../../contracts/errors.js';
import { parseRenewalScanInput } from '../../contracts/input/renewalScan.js';
import { parseIsoDuration } from '../../contracts/duration.js';
import { credentialProcedures } from '../../contracts/procedures.js';
import { InvalidValidationInput, parseValidationInput } from '../../contracts/input/validation.js';
import {
  type ScheduledProcedure,
  scheduledProcedures,
  type ScheduledRotation,
  scheduledRotations,
  ScheduledRunInput,
  ScheduleWindow,
} from '../../contracts/input/schedules.js';

/** Every schedule rekey owns has this id prefix: `--prune` only ever deletes these. */
export const SCHEDULE_ID_PREFIX = 'rekey/';

const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;
const MONTHS = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
] as const;

/** A number, an inclusive range "1-7", or a list of them; each bound checked against [min, max]. */
const numbers = (min: number, max: number) => {
  const one = z.union([
    z.number().int().min(min).max(max),
    z
      .string()
      .regex(/^\d+-\d+$/, `must be a number or a range such as ${min}-${Math.min(max, min + 6)}`)
      .transform((v) => v.split('-').map(Number) as [number, number])
      .refine(([a, b]) => a >= min && b <= max && a <= b, `must be a range within ${min}-${max}`)
      .transform(([start, end]) => ({ start, end })),
  ]);
  return z.union([one, z.array(one).min(1)]);
};
const names = <T extends readonly [string, ...string[]]>(values: T) =>
  z.union([z.enum(values), z.array(z.enum(values)).min(1)]);

const Calendar = z
  .object({
    month: names(MONTHS).optional(),
    dayOfMonth: numbers(1, 31).optional(),
    dayOfWeek: names(DAYS).optional(),
    hour: numbers(0, 23),
    minute: numbers(0, 59).default(0),
    comment: z.string().max(200).optional(),
  })
  .strict();

const ScheduleEntry = z
  .object({
    id: z
      .string()
      .regex(
        /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
        'must be lowercase letters, digits and "-" (at most 63 characters)',
      ),
    description: z.string().min(1).max(300),
    procedure: z.enum(scheduledProcedures),
    calendar: Calendar,
    maintenanceWindow: ScheduleWindow.optional(),
    input: z
      .record(z.string(), z.unknown())
      .describe("the procedure's input, as `rekey rotate-…` or the Web UI would send it"),
  })
  .strict();

const catchup = z.string().refine((v) => {
  const ms = parseIsoDuration(v);
  return ms !== undefined && ms >= 60_000 && ms <= 86_400_000;
}, 'must be an ISO-8601 duration between PT1M and P1D');

export const ScheduleFile = z
  .object({
    timezone: z.literal('UTC').default('UTC'),
    /** What happens to actions missed while the Temporal server was down: run if no later than this. */
    catchupWindow: catchup,
    overlap: z.enum(['skip', 'buffer-one']).default('skip'),
    schedules: z.array(ScheduleEntry).min(1).max(100),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.schedules.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: ['schedules', i, 'id'], message: `duplicate schedule id ${s.id}` });
      seen.add(s.id);
    });
  });
export type ScheduleFile = z.output<typeof ScheduleFile>;
type ScheduleEntry = z.output<typeof ScheduleEntry>;

export class ScheduleFileError extends Error {
  override name = 'ScheduleFileError';
}

const parsers: Record<ScheduledProcedure, (raw: unknown) => { secret?: string; target?: string }> = {
  ...(Object.fromEntries(scheduledRotations.map((id) => [id, credentialProcedures[id].parse])) as unknown as Record<
    ScheduledRotation,
    (raw: unknown) => { secret: string; target: string }
  >),
  validation: (raw) => (parseValidationInput(raw), {}),
  'certificate-renewal': (raw) => (parseRenewalScanInput(raw), {}),
};

/** Reads and validates the whole file (each procedure's input included) before anything touches the server. */
export function loadScheduleFile(file: string): ScheduleFile {
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ScheduleFileError(`${file}: ${(err as Error).message}`);
  }
  const parsed = ScheduleFile.safeParse(raw);
  if (!parsed.success) {
    throw new ScheduleFileError(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`,
    );
  }
  parsed.data.schedules.forEach((s, i) => {
    try {
      parsers[s.procedure](s.input);
    } catch (err) {
      const detail =
        err instanceof InvalidInputError || err instanceof InvalidValidationInput
          ? err.issues.map((x) => `schedules.${i}.input.${x.field}: ${x.message}`).join('; ')
          : (err as Error).message;
      throw new ScheduleFileError(`${file}: ${detail}`);
    }
  });
  return parsed.data;
}

/** The Temporal Schedule for one entry, with a digest of itself so `apply` can tell "unchanged" from "updated". */
export function scheduleOptions(
  file: ScheduleFile,
  entry: ScheduleEntry,
  taskQueue: string,
): { options: ScheduleOptions; digest: string } {
  const resolved = parsers[entry.procedure](entry.input);
  const args: ScheduledRunInput = {
    schedule: entry.id,
    procedure: entry.procedure,
    input:
      entry.procedure === 'validation' || entry.procedure === 'certificate-renewal'
        ? entry.input
        : { ...entry.input, target: resolved.target, secret: resolved.secret },
    ...(entry.maintenanceWindow ? { maintenanceWindow: entry.maintenanceWindow } : {}),
  };
  ScheduledRunInput.parse(args);
  const { comment, ...cal } = entry.calendar;
  const calendar = { ...cal, comment: comment ?? entry.description } as CalendarSpec & {
    month?: Month | Month[];
    dayOfWeek?: DayOfWeek | DayOfWeek[];
  };
  const body = {
    spec: { calendars: [calendar], timezone: file.timezone },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'runScheduled',
      workflowId: `scheduled/${entry.id}`,
      taskQueue,
      args: [args],
      staticSummary: entry.description,
    },
    policies: {
      overlap: file.overlap === 'skip' ? ScheduleOverlapPolicy.SKIP : ScheduleOverlapPolicy.BUFFER_ONE,
      catchupWindow: parseIsoDuration(file.catchupWindow)!,
      pauseOnFailure: false,
    },
  };
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  const options: ScheduleOptions = {
    scheduleId: `${SCHEDULE_ID_PREFIX}${entry.id}`,
    ...body,
    action: { ...body.action, memo: { rekeySchedule: entry.id, rekeyDigest: digest } },
    memo: { description: entry.description },
  };
  return { options, digest };
}
