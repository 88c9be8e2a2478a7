import { keyAlgorithms } from '../keyAlgorithms.js';
import { z } from 'zod';
import { drillField, dryRunField, objectName, requestFields } from './fields.js';
import { InvalidInputError, parseInput } from '../errors.js';
import { isIp } from '../sans.js';
import { clientWatchField } from '../durationField.js';

export { InvalidInputError };

/** Services whose server certificate rekey rotates. Kafka Connect's REST API and the registry read theirs at start: a restart. */
export const TLS_SERVICES = ['postgresql', 'kafka', 'kafka-connect', 'schema-registry'] as const;
export type TlsService = (typeof TLS_SERVICES)[number];

/** The secret each service's certificate lives in (`tls.crt`, `tls.key`, `ca.crt`) when the input names none. */
export const DEFAULT_CERT_SECRETS: Record<TlsService, string> = {
  postgresql: 'postgres-tls',
  kafka: 'kafka-tls',
  'kafka-connect': 'connect-tls',
  'schema-registry': 'registry-tls',
};
/** Services that take a new certificate only by a restart (the others reload it in place). */
export const RESTARTED_TLS_SERVICES: readonly TlsService[] = ['kafka-connect', 'schema-registry'];
export const DEFAULT_CONNECTOR = 'postgres-cdc-users-connector';
export const DEFAULT_CA_SECRET = 'rekey-ca';
export const MAX_VALIDITY_DAYS = 825;

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const certificateDrillSteps = ['issue', 'backup', 'promote', 'install', 'verify-served'] as const;

const dnsName = /^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i;

/** `DNS:name`, `IP:address`, or a bare host name or IP literal. */
const san = z
  .string()
  .max(260)
  .refine((v) => {
    const m = /^(DNS|IP):(.+)$/i.exec(v);
    if (!m) return isIp(v) || (v.length <= 253 && dnsName.test(v));
    return m[1]!.toUpperCase() === 'IP' ? isIp(m[2]!) : m[2]!.length <= 253 && dnsName.test(m[2]!);
  }, 'must be a host name, an IP address, or DNS:<name> / IP:<address>');

/**
 * Input of a service-certificate rotation: names, SANs and limits, never a key (keys live in
 * the secret store). SANs and the common name default to the current certificate's, so a
 * renewal keeps the identity clients check; changing the SANs takes `allowSanChange`.
 */
export const CertificateRotationInput = z
  .object({
    service: z.enum(TLS_SERVICES, { error: () => `must be one of: ${TLS_SERVICES.join(', ')}` }),
    target: objectName.default('pipeline').describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .optional()
      .describe("the service certificate's secret (tls.crt, tls.key, ca.crt); one rotation per secret at a time"),
    caSecret: objectName.default(DEFAULT_CA_SECRET).describe('the CA that signs (ca.crt, ca.key)'),
    commonName: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe("the new certificate's CN (default: the current certificate's)"),
    sans: z
      .array(san)
      .min(1)
      .max(20)
      .optional()
      .describe("subject alternative names (default: the current certificate's)"),
    allowSanChange: z
      .boolean()
      .default(false)
      .describe(
        'accept SANs that differ from the current certificate’s (clients that connect by a dropped name will refuse the new certificate)',
      ),
    hostname: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe(
        'the name clients connect with, checked in the served certificate (default: the host the worker connects to)',
      ),
    validityDays: z
      .number()
      .int()
      .min(1)
      .max(MAX_VALIDITY_DAYS)
      .default(90)
      .describe('lifetime of the new certificate in days'),
    keyAlgorithm: z
      .enum(keyAlgorithms)
      .default('ecdsa-p256')
      .describe(
        "the new certificate's key: ecdsa-p256 (default), rsa-2048, rsa-3072 or rsa-4096; the CA may be RSA or ECDSA either way",
      ),
    ...requestFields('certificate renewal'),
    connector: objectName
      .optional()
      .describe(
        `kafka-connect and schema-registry: the connector to see running again after the restart (default ${DEFAULT_CONNECTOR})`,
      ),
    clientWatch: clientWatchField()
      .optional()
      .describe(
        'kafka-connect and schema-registry: after the restart, how long to keep watching the connectors that use the registry, restarting tasks that FAIL meanwhile (default PT3S for Connect, PT15S for the registry; at most PT10M)',
      ),
    dryRun: dryRunField,
    injectFailure: drillField(certificateDrillSteps),
  })
  .strict()
  .transform((v) => ({ ...v, secret: v.secret ?? DEFAULT_CERT_SECRETS[v.service] }));

export type CertificateRotationInput = z.input<typeof CertificateRotationInput>;
export type CertificateRotationPlan = z.output<typeof CertificateRotationInput>;

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parseCertificateInput(raw: unknown): CertificateRotationPlan {
  return parseInput(CertificateRotationInput, raw);
}
