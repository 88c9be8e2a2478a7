import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import {
  checklist,
  components,
  type CheckResult,
  type CheckStatus,
  type Component,
  type ValidationReport,
} from '../../contracts/checklist.js';
import { validatePipeline } from '../../workflows/validation/workflow.js';
import { failureOf, timeSkippingEnv, workflowBundle } from './harness.js';

/** What each stub check answers: pass unless the test says otherwise; an activity may throw outright. */
let verdicts: Record<string, CheckStatus> = {};
let broken = new Set<string>();
const calls: Array<{ name: string; input: unknown }> = [];

const lines = (c: Component) => Object.values(checklist[c]) as string[];
const result = (component: Component, check: string): CheckResult => ({
  component,
  check,
  status: verdicts[`${component}/${check}`] ?? 'pass',
  evidence: { queried: `stub ${check}`, saw: 'stub answer', expected: 'stub' },
});
function stub(name: string, answer: () => CheckResult[] | CheckResult) {
  return async (input: unknown) => {
    calls.push({ name, input });
    if (broken.has(name)) throw new Error(`${name} is broken in this test`);
    return answer();
  };
}
const net = checklist.network;
const s3 = checklist.s3;
const activities = {
  validatePostgresCdc: stub('validatePostgresCdc', () => lines('postgresql').map((l) => result('postgresql', l))),
  validateKafkaConnect: stub('validateKafkaConnect', () =>
    lines('kafka-connect').map((l) => result('kafka-connect', l)),
  ),
  validateSchemaRegistry: stub('validateSchemaRegistry', () =>
    lines('schema-registry').map((l) => result('schema-registry', l)),
  ),
  validateKafka: stub('validateKafka', () => lines('kafka').map((l) => result('kafka', l))),
  // answered out of checklist order on purpose: the report puts them back in order
  validateS3: stub('validateS3', () => [s3.partitioning, s3.list, s3.credentials].map((l) => result('s3', l))),
  validateSinkConnector: stub('validateSinkConnector', () => result('s3', s3.sink)),
  validateNetworkReachability: stub('validateNetworkReachability', () =>
    [net.connectivity, net.dns].map((l) => result('network', l)),
  ),
  validateNetworkPolicies: stub('validateNetworkPolicies', () =>
    [net.enforced, net.external].map((l) => result('network', l)),
  ),
  validateKubernetesRbac: stub('validateKubernetesRbac', () => lines('rbac').map((l) => result('rbac', l))),
};

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `validation-${randomBytes(3).toString('hex')}`;
beforeAll(async () => {
  env = await timeSkippingEnv();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities,
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

function reset(v: Record<string, CheckStatus> = {}, b: string[] = []) {
  verdicts = v;
  broken = new Set(b);
  calls.length = 0;
}
const start = (input: unknown) =>
  env.client.workflow.start(validatePipeline, {
    taskQueue,
    workflowId: `validate/test/${randomBytes(4).toString('hex')}`,
    args: [input],
  });

describe('validatePipeline (stub activities)', () => {
  it('all: every checklist line once, in the runbook order, and the run completes with ok', async () => {
    reset({ 'network/Network policies are enforced': 'skip' });
    const handle = await start({ components: ['all'] });
    const report = await handle.result();
    expect(report.ok).toBe(true);
    expect(report.components).toEqual(components);
    expect(report.checks.map((c) => `${c.component}/${c.check}`)).toEqual(
      components.flatMap((c) => lines(c).map((l) => `${c}/${l}`)),
    );
    expect(report.checks).toHaveLength(30);
    expect(report.summary).toEqual({ pass: 29, fail: 0, skip: 1 });
    const sa = (await handle.describe()).searchAttributes;
    expect(sa.RotationComponent).toEqual(['validation']);
    expect(sa.RotationTarget).toEqual(['all']);
    expect(sa.RotationPhase).toEqual(['passed']);
  });

  it('a failed check fails the run with non-retryable ValidationFailed whose details are the report', async () => {
    reset({ 'postgresql/User exists and has REPLICATION privilege': 'fail' });
    const handle = await start({ components: ['postgresql', 's3'] });
    const cause = (await failureOf(handle)) as {
      type?: string;
      message?: string;
      nonRetryable?: boolean;
      details?: unknown[];
    };
    expect(cause.type).toBe('ValidationFailed');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('1 of 9 checks failed: postgresql: User exists and has REPLICATION privilege');
    const report = cause.details?.[0] as ValidationReport;
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.check)).toEqual([
      'User exists and has REPLICATION privilege',
    ]);
    expect(report.checks.filter((c) => c.component === 's3').map((c) => c.check)).toEqual(lines('s3'));
    expect((await handle.describe()).searchAttributes.RotationPhase).toEqual(['failed']);
  });

  it('only the requested components run; the activities get the runbook names by default', async () => {
    reset();
    const report = await (await start({ components: ['kafka-connect'] })).result();
    expect(report.checks.every((c) => c.component === 'kafka-connect')).toBe(true);
    expect(calls).toEqual([
      {
        name: 'validateKafkaConnect',
        input: { connector: 'postgres-cdc-users-connector', alsoDeployed: ['s3-sink-connector'] },
      },
    ]);
  });

  it("an activity that cannot run fails its component's lines with the reason, and the others still report", async () => {
    reset({}, ['validateNetworkPolicies']);
    const handle = await start({ components: ['network', 'rbac'] });
    const report = (await failureOf(handle))?.details?.[0] as ValidationReport;
    const failed = report.checks.filter((c) => c.status === 'fail');
    expect(failed.map((c) => c.check)).toEqual([checklist.network.enforced, checklist.network.external]);
    expect(failed[0]!.evidence.saw).toMatch(/could not run: .*validateNetworkPolicies is broken/);
    expect(report.checks.filter((c) => c.status === 'pass')).toHaveLength(6);
  });

  it('bad input is refused naming the field, before any check runs', async () => {
    reset();
    const cause = await failureOf(await start({ components: ['postgres'] }));
    expect(cause?.type).toBe('InvalidInput');
    expect(cause?.message).toMatch(/components\.0: must be one of all, postgresql, kafka-connect/);
    const typo = await failureOf(await start({ components: ['all'], targets: { bucket: 'Not_A_Bucket' } }));
    expect(typo?.message).toMatch(/targets\.bucket: must be an S3 bucket name/);
    expect(calls).toEqual([]);
  });

  it('no input at all means every component (what a schedule or the Web UI may send)', async () => {
    reset();
    const report = await (await start({})).result();
    expect(report.components).toEqual(components);
  });
});
