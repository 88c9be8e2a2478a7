import { ActivityFailure, ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import type { Activities } from '../../activities/index.js';
import { activityOptions } from '../rotation/index.js';
import { MAX_CA_VALIDITY_DAYS } from '../../contracts/input/caRotation.js';
import { DEFAULT_CA_SECRET } from '../../contracts/input/certificate.js';
import { keyAlgorithms } from '../../contracts/keyAlgorithms.js';

/** Input of `initCertificateAuthority` (plain JSON: the Web UI and `temporal workflow start` can send it). */
export const InitCaInput = z
  .object({
    caSecret: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/, 'must be a Kubernetes object name')
      .default(DEFAULT_CA_SECRET)
      .describe('the secret the CA goes to (ca.crt, ca.key); must not exist'),
    commonName: z.string().min(1).max(64).default('rekey CA').describe("the CA's CN"),
    validityDays: z
      .number()
      .int()
      .min(30)
      .max(MAX_CA_VALIDITY_DAYS)
      .default(3650)
      .describe("the CA's lifetime in days"),
    keyAlgorithm: z.enum(keyAlgorithms).default('ecdsa-p256').describe("the CA's key"),
    requestedBy: z.string().min(1).max(200).default('unknown'),
  })
  .strict();
export type InitCaInput = z.input<typeof InitCaInput>;

export const initCaWorkflowId = (caSecret: string) => `init-ca/${caSecret}`;

const { createAuthorityIfAbsent } = proxyActivities<Activities>(activityOptions.change);

/**
 * `rekey cert init-ca`: the first CA where none exists (the platform plan's `openssl genrsa`
 * + `openssl req -x509`, without a key on anyone's laptop). The worker makes the key and writes
 * it only to the secret store; the result is the certificate's subject, dates and fingerprint.
 * It never replaces a CA (that is `rotate-ca`).
 */
export async function initCertificateAuthority(raw: InitCaInput) {
  const parsed = InitCaInput.safeParse(raw ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `invalid input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
      'InvalidInput',
    );
  const plan = parsed.data;
  const { workflowId, runId } = workflowInfo();
  if (workflowId !== initCaWorkflowId(plan.caSecret)) {
    throw ApplicationFailure.nonRetryable(
      `start it with workflow id ${initCaWorkflowId(plan.caSecret)}: one init per CA secret at a time`,
      'NonCanonicalWorkflowId',
    );
  }
  try {
    return await createAuthorityIfAbsent({
      caSecret: plan.caSecret,
      commonName: plan.commonName,
      validityDays: plan.validityDays,
      keyAlgorithm: plan.keyAlgorithm,
      initId: `${workflowId}/${runId}`,
    });
  } catch (err) {
    // the refusal itself (CaExists, …) as this run's failure, not "activity task failed"
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
      throw ApplicationFailure.nonRetryable(err.cause.message, err.cause.type);
    throw err;
  }
}
