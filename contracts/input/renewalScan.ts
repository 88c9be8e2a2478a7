import { z } from 'zod';
import { parseInput } from '../errors.js';
import { DEFAULT_CA_SECRET, MAX_VALIDITY_DAYS } from './certificate.js';

/** Bounds of the renewal threshold: under 1/20 of the lifetime leaves no room to react; over 9/10 renews almost at once. */
export const RENEW_BEFORE_RATIO = { default: 1 / 3, min: 0.05, max: 0.9 } as const;

/**
 * Input of `renewCertificates`, the scan the daily schedule (and `rekey cert renew`) starts:
 * which share of a certificate's lifetime left makes it due, or a number of days.
 */
export const RenewalScanInput = z
  .object({
    renewBeforeRatio: z
      .number()
      .min(RENEW_BEFORE_RATIO.min)
      .max(RENEW_BEFORE_RATIO.max)
      .default(RENEW_BEFORE_RATIO.default)
      .describe('renew when less than this share of the lifetime is left'),
    renewBeforeDays: z
      .number()
      .min(0)
      .max(MAX_VALIDITY_DAYS)
      .optional()
      .describe('renew when fewer days than this are left (instead of the ratio)'),
    validityDays: z
      .number()
      .int()
      .min(1)
      .max(MAX_VALIDITY_DAYS)
      .optional()
      .describe("lifetime of renewed certificates (default: each one's current lifetime)"),
    caSecret: z.string().min(1).max(63).default(DEFAULT_CA_SECRET),
    dryRun: z.boolean().default(false).describe('scan and report what is due; start nothing'),
    reason: z.string().min(1).max(500).default('renewal before expiry'),
    requestedBy: z.string().min(1).max(200).default('unknown'),
  })
  .strict();

export type RenewalScanInput = z.input<typeof RenewalScanInput>;
export type RenewalScanPlan = z.output<typeof RenewalScanInput>;

export function parseRenewalScanInput(raw: unknown): RenewalScanPlan {
  return parseInput(RenewalScanInput, raw ?? {});
}
