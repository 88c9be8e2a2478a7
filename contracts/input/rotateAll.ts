import { z } from 'zod';
import { DEFAULT_CA_SECRET, TLS_SERVICES } from './certificate.js';
import { parseIsoDuration } from '../duration.js';

import { type CredentialProcedureId, emergencyOrder } from '../procedures.js';

export { emergencyOrder };
export type EmergencyProcedure = (typeof emergencyOrder)[number];

/**
 * TLS material an emergency replaces when asked, after the credentials: `certificates`
 * reissues each service certificate from the current CA; `ca` replaces the CA itself, which
 * reissues every one of them from the new CA (so it covers `certificates`). Without revocation
 * lists a leaked service key stays usable until it expires or its CA leaves the trust bundles:
 * a suspected key leak wants `ca`.
 */
export const emergencyTlsMaterial = ['certificates', 'ca'] as const;

const overrides = z
  .record(z.string(), z.unknown())
  .default({})
  .describe(
    'extra input for the procedure (e.g. its secret); compromise, target, reason and requestedBy are set by the emergency',
  );

/** Input of `emergencyRotateAll` (plain JSON: the Web UI and `temporal workflow start` can send it). */
export const RotateAllInput = z
  .object({
    reason: z
      .string()
      .min(10, 'say in at least 10 characters what is suspected (it goes to every rotation and the audit log)')
      .max(500),
    requestedBy: z.string().min(1).max(200).default('unknown'),
    target: z
      .string()
      .regex(
        /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
        'must be lowercase letters, digits, "-" or "." (at most 63 characters)',
      )
      .default('ecommerce'),
    skip: z
      .array(z.enum(emergencyOrder))
      .max(emergencyOrder.length)
      .default([])
      .describe('procedures not to run (e.g. a credential not in use)'),
    inputs: z
      .object(
        Object.fromEntries(emergencyOrder.map((id) => [id, overrides])) as Record<
          CredentialProcedureId,
          typeof overrides
        >,
      )
      .partial()
      .strict()
      .default({}),
    registryAccounts: z
      .array(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be a lowercase account name'))
      .min(1)
      .max(10)
      .default(['developer', 'admin', 'probe'])
      .describe(
        "the Schema Registry accounts rotated, one after another (every account of the runbook's user-info by default: the converter's developer, admin, probe)",
      ),
    include: z
      .array(z.enum(emergencyTlsMaterial, { error: () => `must be one of: ${emergencyTlsMaterial.join(', ')}` }))
      .max(emergencyTlsMaterial.length)
      .refine((v) => new Set(v).size === v.length, 'must not name one twice')
      .default([])
      .describe(
        "TLS material replaced too, after the credentials: 'certificates' (each service certificate reissued from the current CA) or 'ca' (a new CA, every certificate reissued from it; the old CA leaves the trust bundles after caGrace)",
      ),
    certificateServices: z
      .array(z.enum(TLS_SERVICES, { error: () => `must be one of: ${TLS_SERVICES.join(', ')}` }))
      .min(1)
      .max(TLS_SERVICES.length)
      .refine((v) => new Set(v).size === v.length, 'must not name a service twice')
      .default([...TLS_SERVICES])
      .describe('with include: the services whose certificates are reissued (default: every managed one)'),
    caSecret: z
      .string()
      .regex(
        /^[a-z0-9]([-a-z0-9.]{0,53}[a-z0-9])?$/,
        'must be lowercase letters, digits, "-" or "." (at most 55 characters)',
      )
      .default(DEFAULT_CA_SECRET)
      .describe('with include: the CA that signs (and, with ca, is replaced)'),
    caGrace: z
      .string()
      .max(40)
      .refine(
        (v) => parseIsoDuration(v) !== undefined && parseIsoDuration(v)! <= 3600_000,
        'must be an ISO-8601 duration of at most PT1H, such as PT0S or PT15M',
      )
      .default('PT0S')
      .describe(
        'with include ca: how long the compromised CA stays trusted beside the new one (PT0S: it leaves every bundle as soon as every certificate is reissued and served)',
      ),
    /** How long to wait for a rotation already running on a credential to end (it is told the credential is compromised) before reporting it. */
    waitForRunningSeconds: z.number().int().min(0).max(1800).default(600),
  })
  .strict();

export type RotateAllInput = z.input<typeof RotateAllInput>;
export type RotateAllPlan = z.output<typeof RotateAllInput>;
