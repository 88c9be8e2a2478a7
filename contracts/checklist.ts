/**
 * The seed runbook's "Manual Validation Checklist", line for line: each line is one named
 * check. Activities report results under these names; the workflow uses the list to mark a
 * component's lines failed when its activity could not run at all.
 */
export const checklist = {
  postgresql: {
    replicationPrivilege: 'User exists and has REPLICATION privilege',
    tableSelect: 'User has SELECT permissions on all required tables',
    slotActive: 'Replication slot is active and owned by CDC user',
    walLevel: "WAL level is set to 'logical'",
    maxSlots: 'Max replication slots >= 4',
  },
  'kafka-connect': {
    service: 'Service is accessible and running',
    plugins: 'Required connector plugins are installed',
    connectorRunning: 'Debezium connector is in RUNNING state',
    tasksRunning: 'Connector tasks are in RUNNING state',
    connectivity: 'Can connect to PostgreSQL, Kafka, and Schema Registry',
  },
  'schema-registry': {
    service: 'Service is accessible and running',
    auth: 'Authentication is working',
    compatibility: 'Compatibility level is set to BACKWARD',
    kafka: 'Can connect to Kafka cluster',
    subjects: 'Subjects are being registered correctly',
  },
  /** Not in the seed's checklist: the platform plan's secured Kafka (SASL_SSL, SCRAM, ACLs). */
  kafka: {
    login: 'rekey authenticates over SASL_SSL as its own principal',
    tls: 'Brokers serve a certificate the configured CA trusts, for their host name',
    principal: "Kafka Connect's principal has a SCRAM credential and its ACLs",
  },
  s3: {
    credentials: 'AWS credentials are configured',
    list: 'Can list S3 bucket contents',
    sink: 'S3 Sink connector is running (if deployed)',
    partitioning: 'Files are being written to S3 with correct partitioning',
  },
  network: {
    enforced: 'Network policies are enforced',
    connectivity: 'Inter-service connectivity is working',
    external: 'External access is properly restricted',
    dns: 'DNS resolution is working',
  },
  rbac: {
    serviceAccounts: 'Service accounts exist',
    secrets: 'Required secrets are present',
    networkPolicies: 'Network policies are configured',
    podSecurity: 'Pod security contexts are enforced',
  },
} as const;

export type Component = keyof typeof checklist;
export const components = Object.keys(checklist) as Component[];

export type CheckStatus = 'pass' | 'fail' | 'skip';

/** What was asked, what came back, and what a pass needs. Never a secret value. */
export interface Evidence {
  queried: string;
  saw: string;
  expected: string;
}

export interface CheckResult {
  component: Component;
  /** The checklist line, word for word. */
  check: string;
  status: CheckStatus;
  evidence: Evidence;
}

export interface ValidationReport {
  ok: boolean;
  components: Component[];
  summary: { pass: number; fail: number; skip: number };
  checks: CheckResult[];
}

/** The report of a list of results: ok when nothing failed (a skip is not a pass, and not a failure either). */
export function reportOf(componentsRun: Component[], checks: CheckResult[]): ValidationReport {
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const summary = { pass: count('pass'), fail: count('fail'), skip: count('skip') };
  return { ok: summary.fail === 0, components: componentsRun, summary, checks };
}
