import { z } from 'zod';
import { drillField, dryRunField, requestFields } from './fields.js';
import { MAX_GRACE_MS, parseIsoDuration } from '../duration.js';
import { parseInput } from '../errors.js';
import { DEFAULT_CA_SECRET, MAX_VALIDITY_DAYS, TLS_SERVICES } from './certificate.js';

/** A CA lives longer than what it signs: up to 20 years; the stack's lives 10. */
export const MAX_CA_VALIDITY_DAYS = 7300;
/** How long both CAs stay trusted after the switch unless the input says otherwise. */
export const DEFAULT_CA_GRACE = 'PT24H';

/** Steps after which a CA-rotation drill may inject a failure (workers started with test hooks only). */
export const caDrillSteps = ['create-ca', 'trust-new-ca', 'reissue', 'promote-ca', 'grace'] as const;

const caName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]{0,53}[a-z0-9])?$/,
    'must be lowercase letters, digits, "-" or "." (at most 55 characters: -pending/-backup are added)',
  );
const grace = z
  .string()
  .max(40)
  .refine((v) => parseIsoDuration(v) !== undefined, 'must be an ISO-8601 duration such as PT24H, P1D or PT15M')
  .refine((v) => (parseIsoDuration(v) ?? 0) <= MAX_GRACE_MS, 'must be at most P30D');

/**
 * Input of `rotateCertificateAuthority`: the CA secret to replace, the new CA's name and life,
 * and how long both CAs stay in every trust bundle. Names and durations only, never a key.
 */
export const CaRotationInput = z
  .object({
    caSecret: caName
      .default(DEFAULT_CA_SECRET)
      .describe('the CA secret (ca.crt, ca.key) to replace; one CA rotation per secret at a time'),
    commonName: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe("the new CA's CN (default: the current CA's CN with the date)"),
    caValidityDays: z
      .number()
      .int()
      .min(30)
      .max(MAX_CA_VALIDITY_DAYS)
      .default(3650)
      .describe('lifetime of the new CA in days'),
    validityDays: z
      .number()
      .int()
      .min(1)
      .max(MAX_VALIDITY_DAYS)
      .optional()
      .describe("lifetime of the reissued service certificates (default: each one's current lifetime)"),
    services: z
      .array(z.enum(TLS_SERVICES, { error: () => `must be one of: ${TLS_SERVICES.join(', ')}` }))
      .min(1)
      .max(TLS_SERVICES.length)
      .refine((v) => new Set(v).size === v.length, 'must not name a service twice')
      .optional()
      .describe(
        'the services whose certificates move to the new CA (default: every managed one); the others keep their certificate from the old CA until their next renewal, which issues from the new CA',
      ),
    gracePeriod: grace
      .default(DEFAULT_CA_GRACE)
      .describe('how long clients trust both CAs after the switch, before the old CA leaves every bundle'),
    ...requestFields('CA rotation'),
    dryRun: dryRunField,
    injectFailure: drillField(caDrillSteps),
  })
  .strict();

export type CaRotationInput = z.input<typeof CaRotationInput>;
export type CaRotationPlan = z.output<typeof CaRotationInput>;

export function parseCaRotationInput(raw: unknown): CaRotationPlan {
  return parseInput(CaRotationInput, raw ?? {});
}
