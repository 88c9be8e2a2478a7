import { z } from 'zod';
import { formatDuration, parseIsoDuration } from './duration.js';

const TWO_HOURS_MS = 2 * 3_600_000;

/**
 * The maintenance window a scheduled rotation runs in (the schedule's launcher sets it):
 * the switch must start before `switchBy`; staging is expected to take at most
 * `stagingBudget`, so a rotation that could not reach its switch in time does not stage.
 */
export const MaintenanceWindowInput = z
  .object({
    opensAt: z.iso
      .datetime({ offset: true })
      .optional()
      .describe(
        "when the window opened (a schedule's nominal time): with switchBy it defines the daily window a later restart (the registry's phase 3) waits for",
      ),
    switchBy: z.iso
      .datetime({ offset: true })
      .describe('the switch step must start before this instant, e.g. 2026-12-06T04:00:00Z'),
    stagingBudget: z
      .string()
      .max(40)
      .refine((v) => {
        const ms = parseIsoDuration(v);
        return ms !== undefined && ms > 0 && ms <= TWO_HOURS_MS;
      }, 'must be a positive ISO-8601 duration of at most PT2H, such as PT10M')
      .default('PT10M')
      .describe('how long staging may take before the switch; the rotation does not stage when less is left'),
  })
  .strict();

export type MaintenanceWindow = z.output<typeof MaintenanceWindowInput>;

/** A rotation whose switch would miss its window: it ends cleanly (staging undone) instead of switching late. */
export class OutsideMaintenanceWindow extends Error {
  override name = 'OutsideMaintenanceWindow';
}

/** Why `phase` may not begin at `nowMs` inside `window`, or null when it may. Pure: the kit calls it with workflow time. */
export function windowRefusal(window: MaintenanceWindow, phase: 'staging' | 'switching', nowMs: number): string | null {
  const deadline = Date.parse(window.switchBy);
  const budgetMs = parseIsoDuration(window.stagingBudget) ?? 0;
  const at = new Date(nowMs).toISOString();
  if (phase === 'staging' && nowMs + budgetMs > deadline) {
    return `maintenance window: staging would start at ${at} with ${formatDuration(Math.max(0, deadline - nowMs))} left before the switch deadline ${window.switchBy} (staging is allowed ${window.stagingBudget}); nothing was changed`;
  }
  if (phase === 'switching' && nowMs >= deadline) {
    return `maintenance window: the switch would start at ${at}, after its deadline ${window.switchBy}; staging is undone`;
  }
  return null;
}

const DAY_MS = 86_400_000;

/**
 * The end of a grace period that must end inside the maintenance window, which recurs daily
 * from `opensAt` to `switchBy` (a schedule's 02:00–04:00 UTC): `endMs` if it falls inside an
 * occurrence, else the opening of the next one. Pure: the kit calls it with workflow time.
 */
export function alignToWindow(endMs: number, window: Pick<MaintenanceWindow, 'opensAt' | 'switchBy'>): number {
  if (!window.opensAt) return endMs;
  const opens = Date.parse(window.opensAt);
  const length = Date.parse(window.switchBy) - opens;
  if (!(length > 0) || length >= DAY_MS) return endMs;
  // the first occurrence that has not closed by endMs
  const k = Math.ceil((endMs - opens - length) / DAY_MS);
  const open = opens + k * DAY_MS;
  return endMs >= open ? endMs : open;
}
