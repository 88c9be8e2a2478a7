import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../../activities/index.js';
import { describeError } from '../rotation/errors.js';
import {
  checklist,
  reportOf,
  type CheckResult,
  type Component,
  type ValidationReport,
} from '../../contracts/checklist.js';
import { ValidationTargets, type ValidationTargetNames } from '../../contracts/input/validation.js';

type Activities = ReturnType<typeof createActivities>;

/** Read-only checks: a slow system gets two minutes, one retry for a worker that died mid-check (each check reports its own errors). */
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '2s', maximumAttempts: 2 },
});

/** Every line of a component (or the named ones) failed with the reason the activity could not run. */
function couldNotRun(component: Component, err: unknown, only?: string[]): CheckResult[] {
  const lines = Object.values(checklist[component]) as string[];
  return lines
    .filter((l) => !only || only.includes(l))
    .map((check) => ({
      component,
      check,
      status: 'fail' as const,
      evidence: {
        queried: `the ${component} validation activity`,
        saw: `could not run: ${describeError(err)}`,
        expected: 'the activity answers',
      },
    }));
}

/** Runs `probe`; if its activity fails outright, its lines fail with the reason. */
async function guard(
  component: Component,
  probe: () => Promise<CheckResult[]>,
  lines?: string[],
): Promise<CheckResult[]> {
  try {
    return await probe();
  } catch (err) {
    return couldNotRun(component, err, lines);
  }
}

function checksOf(component: Component, t: ValidationTargetNames): Promise<CheckResult[]> {
  const net = checklist.network;
  const s3 = checklist.s3;
  switch (component) {
    case 'postgresql':
      return guard(component, () =>
        acts.validatePostgresCdc({ secret: t.cdcSecret, slot: t.slot, publication: t.publication }),
      );
    case 'kafka-connect':
      return guard(component, () =>
        acts.validateKafkaConnect({ connector: t.connector, alsoDeployed: [t.sinkConnector] }),
      );
    case 'schema-registry':
      return guard(component, () =>
        acts.validateSchemaRegistry({
          secret: t.registrySecret,
          accounts: t.registryAccounts,
          topicPrefix: t.topicPrefix,
        }),
      );
    case 'kafka':
      return guard(component, () => acts.validateKafka({ principalSecret: t.kafkaPrincipalSecret }));
    case 's3':
      return Promise.all([
        guard(component, () => acts.validateS3({ secret: t.awsSecret, bucket: t.bucket, prefix: t.prefix }), [
          s3.credentials,
          s3.list,
          s3.partitioning,
        ]),
        guard(component, async () => [await acts.validateSinkConnector({ connector: t.sinkConnector })], [s3.sink]),
      ]).then((r) => r.flat());
    case 'network':
      return Promise.all([
        guard(component, () => acts.validateNetworkReachability(), [net.connectivity, net.dns]),
        guard(component, () => acts.validateNetworkPolicies(), [net.enforced, net.external]),
      ]).then((r) => r.flat());
    case 'rbac':
      return guard(component, () =>
        acts.validateKubernetesRbac({
          serviceAccounts: t.serviceAccounts,
          secrets: t.secrets,
          networkPolicies: t.networkPolicies,
          workloads: t.workloads,
        }),
      );
  }
}

/** Checklist order: component by component, line by line. */
function ordered(results: CheckResult[], run: Component[]): CheckResult[] {
  const rank = (r: CheckResult) =>
    run.indexOf(r.component) * 100 + (Object.values(checklist[r.component]) as string[]).indexOf(r.check);
  return [...results].sort((a, b) => rank(a) - rank(b));
}

/**
 * The runbook's validation checklist for `components`, from inside any workflow (a rotation's
 * final verification calls it with its own component). Read only; never throws for a failed
 * check: the report says what failed and why.
 */
export async function runValidationChecks(
  components: Component[],
  targets: Partial<ValidationTargetNames> = {},
): Promise<ValidationReport> {
  const t = ValidationTargets.parse(targets);
  const results = await Promise.all(components.map((c) => checksOf(c, t)));
  return reportOf(components, ordered(results.flat(), components));
}
