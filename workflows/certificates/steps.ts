import { type PlannedStep, plannedStep } from '../rotation/definitions.js';
import { type CertificateRotationPlan, RESTARTED_TLS_SERVICES } from '../../contracts/input/certificate.js';

/** What the steps are planned from: the plan and what pre-flight found. */
export interface CertificateFacts {
  from: string;
  commonName: string;
  sans: string[];
  hostname: string;
  endpoint: { host: string; port: number; protocol: 'postgres' | 'tls' };
}

const reloadOf: Record<CertificateRotationPlan['service'], string> = {
  postgresql: 'SELECT pg_reload_conf()',
  // KIP-226: set again to the same path, a broker re-reads the keystore file when it changed; connections stay open
  kafka: 'the Admin API re-setting each broker’s listener.name.<tls listener>.ssl.keystore.location',
  // they read their certificate only at start
  'kafka-connect': 'restart the Kafka Connect worker (Kubernetes: rollout restart of deployments/kafka-connect)',
  'schema-registry': 'restart the Schema Registry (Kubernetes: rollout restart of statefulsets/schema-registry)',
};

/**
 * Every step of a service-certificate rotation with what it does (keys never shown) and its
 * compensation: the workflow names its steps from here and the dry run prints this list.
 */
export function certificateSteps(p: CertificateRotationPlan, f: CertificateFacts) {
  const s = p.secret;
  const reload = reloadOf[p.service];
  const handshake = `TLS handshake with ${f.endpoint.host}:${f.endpoint.port}${f.endpoint.protocol === 'postgres' ? ' (after PostgreSQL’s SSLRequest)' : ''}`;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: ${p.caSecret} can sign for ${p.validityDays} days; ${handshake} serves ${s}'s certificate ${f.from}; the new SANs equal the current ones (or allowSanChange) and include ${f.hostname}`,
    ),
    issue: plannedStep(
      'issue',
      'staging',
      `on the worker: a new ECDSA P-256 key and CSR for CN=${f.commonName}, SANs ${f.sans.join(', ')}; signed by ${p.caSecret} for ${p.validityDays} days; key, certificate and CA into ${s}-pending (the key is never shown)`,
      `delete secret ${s}-pending`,
    ),
    backup: plannedStep('backup', 'switching', `copy secret ${s} → ${s}-backup`, `delete secret ${s}-backup`),
    promote: plannedStep(
      'promote',
      'switching',
      `copy ${s}-pending → ${s} (refused if ${s} changed since it was read)`,
      `copy ${s}-backup → ${s}`,
    ),
    install: plannedStep(
      'install',
      'switching',
      `install ${s} for ${p.service} (Kubernetes: the projected Secret volume), then ${reload} until a handshake serves the new certificate (≤ 300 s)`,
      `copy ${s}-backup → ${s}, install it, ${reload} until ${f.from} is served again`,
    ),
    ...(RESTARTED_TLS_SERVICES.includes(p.service)
      ? {
          heal: plannedStep(
            'connector-running',
            'switching',
            `after the ${p.service} restart: the connector's failed tasks restarted (nothing is lost: uncommitted offsets are read again) and every task RUNNING`,
          ),
        }
      : {}),
    verify: plannedStep(
      'verify-served',
      'verifying',
      `${handshake} as a client: the served certificate is the new one, validates against ${p.caSecret} and matches ${f.hostname}`,
    ),
    cleanup: plannedStep(
      'remove-versions',
      'cleanup',
      `delete secrets ${s}-pending and ${s}-backup (the old key is gone; the old certificate is not revoked and expires by itself)`,
    ),
  };
}

export type CertificateSteps = ReturnType<typeof certificateSteps>;

export const orderedCertificateSteps = (steps: CertificateSteps): PlannedStep[] => Object.values(steps);
