import { z } from 'zod';
import { MAX_GRACE_MS, parseIsoDuration } from '../duration.js';
import { MaintenanceWindowInput } from '../window.js';

/** The fields every procedure's input shares, defined once: their bounds and messages are the same everywhere. */

/** Kubernetes-style object names (secrets, targets, connectors). */
export const objectName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    'must be lowercase letters, digits, "-" or "." (at most 63 characters)',
  );

/** A grace period: an ISO-8601 duration of at most P30D; `positiveBecause` refuses zero, saying why. */
export function gracePeriodField(opts: { example: string; positiveBecause?: string }) {
  const bounded = z
    .string()
    .max(40)
    .refine((v) => parseIsoDuration(v) !== undefined, `must be an ISO-8601 duration such as ${opts.example}`)
    .refine((v) => (parseIsoDuration(v) ?? 0) <= MAX_GRACE_MS, 'must be at most P30D');
  const why = opts.positiveBecause;
  return why ? bounded.refine((v) => (parseIsoDuration(v) ?? 1) > 0, `must be longer than zero (${why})`) : bounded;
}

/** `force`: go on although pre-flight checks fail, for a reason the audit log keeps. */
export const forceField = (what = 'pre-flight checks fail') =>
  z
    .object({ reason: z.string().min(10, 'explain in at least 10 characters why pre-flight may fail').max(500) })
    .strict()
    .optional()
    .describe(`go on although ${what}; the reason is written to the audit log`);

/** Who asked and why (the audit log's fields). */
export const requestFields = (defaultReason: string) => ({
  reason: z.string().min(1).max(500).default(defaultReason),
  requestedBy: z.string().min(1).max(200).default('unknown'),
});

/** `compromise`: the emergency's mode, with what it means for this credential. */
export const compromiseField = (meaning: string) => z.boolean().default(false).describe(meaning);

/** Set by a schedule: the switch must start inside this window. */
export const maintenanceWindowField = MaintenanceWindowInput.optional().describe(
  'set by a schedule: the switch must start inside this window, or the rotation ends without switching',
);

export const dryRunField = z.boolean().default(false);

/** `injectFailure`: a rollback drill after one of the procedure's steps. */
export const drillField = <S extends readonly [string, ...string[]]>(steps: S) =>
  z.enum(steps).optional().describe('rollback drill; accepted only by workers started with REKEY_TEST_HOOKS=true');

/**
 * The fields every credential procedure's input ends with: the forced pre-flight, who asked and
 * why, compromise mode (`compromise`: what it means for this credential), the schedule's window,
 * dry run and the rollback drill after one of `drillSteps`.
 */
export const runFields = <S extends readonly [string, ...string[]]>(opts: { drillSteps: S; compromise: string }) => ({
  force: forceField(),
  ...requestFields('scheduled rotation'),
  compromise: compromiseField(opts.compromise),
  maintenanceWindow: maintenanceWindowField,
  dryRun: dryRunField,
  injectFailure: drillField(opts.drillSteps),
});

/** With compromise: true the old credential goes at once: a grace period is refused (`what` says what goes). */
export const noGraceWhenCompromised =
  (what: string) => (v: { compromise: boolean; gracePeriod?: string }, ctx: z.RefinementCtx) => {
    if (v.compromise && v.gracePeriod !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['gracePeriod'],
        message: `must be absent with compromise: true (${what})`,
      });
  };

/** The grace period a plan resolves to: the input's, else none in compromise mode, else the procedure's default. */
export const resolvedGrace = (v: { compromise: boolean; gracePeriod?: string }, normal: string): string =>
  v.gracePeriod ?? (v.compromise ? 'PT0S' : normal);

/** `<prefix>-yyyymmdd-hhmm` in UTC (prefix: the current name without such a date); seconds are added when that name is taken. */
export function datedUserName(prefix: string | undefined, current: string, at: Date): string {
  const base = prefix ?? current.replace(/-\d{8}-\d{4,6}$/, '');
  const iso = at.toISOString();
  const name = `${base}-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 16).replace(':', '')}`;
  return name === current ? `${name}${iso.slice(17, 19)}` : name;
}
