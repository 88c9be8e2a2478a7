import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { DeleteUserPolicyCommand, GetUserPolicyCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { NetworkingV1Api } from '@kubernetes/client-node';
import { pipeline, repoRoot } from '../../scripts/stack/config.js';
import { awsClientConfig } from '../../scripts/stack/moto.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { adminKubeConfig, kubeNamespace } from '../../scripts/stack/kube.js';
import { waitArchived } from '../../scripts/lib/s3Archive.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { checklist, type CheckStatus, type Component, type ValidationReport } from '../../contracts/checklist.js';
import { validatePipeline } from '../../workflows/validation/workflow.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { recordHistory, recordingOverrides } from './histories.js';
import { cfg, store } from './pipeline.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

/**
 * The runbook's access-validation checklist against the real embedded stack: everything passes
 * (or is skipped with its reason) on a healthy stack; breaking one real thing per component
 * makes exactly the check an operator would expect fail, with the evidence that says why.
 * Each break is undone in `finally`.
 */
const exec = promisify(execFile);
const connectUrl = `http://127.0.0.1:${cfg.ports.connect}`;
let w: TestWorker;

beforeAll(async () => {
  // start from a running sink: a task an earlier file's registry restart failed is not this file's subject
  await connectFetch(`${connectUrl}/connectors/s3-sink-connector/restart?includeTasks=true&onlyFailed=true`, {
    method: 'POST',
  });
  w = await startTestWorker(recordingOverrides);
  // "Files are being written to S3": one change event archived, so the archive has an object to look at
  const db = await adminClient(cfg, pipeline.database);
  const email = `validate-${randomBytes(4).toString('hex')}@example.com`;
  try {
    await db.query('INSERT INTO public.users (email, name) VALUES ($1, $2)', [email, 'access validation']);
  } finally {
    await db.end();
  }
  expect((await waitArchived(cfg, [email], 'validate-', 90_000)).lost).toBe(0);
});
afterAll(async () => {
  await w?.stop();
});

/** Runs the workflow and returns its report, whether it completed or failed with ValidationFailed. */
async function validate(components: string[], record?: string): Promise<ValidationReport> {
  const handle = await w.client.workflow.start(validatePipeline, {
    taskQueue: w.taskQueue,
    workflowId: `validate/${components.join('+')}/test-${randomBytes(3).toString('hex')}`,
    args: [{ components }],
  });
  try {
    return await handle.result();
  } catch (err) {
    if (
      err instanceof WorkflowFailedError &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === 'ValidationFailed'
    )
      return err.cause.details![0] as ValidationReport;
    throw err;
  } finally {
    if (record) await recordHistory(handle, record);
  }
}
const line = (r: ValidationReport, component: Component, check: string) =>
  r.checks.find((c) => c.component === component && c.check === check)!;
const failed = (r: ValidationReport) =>
  r.checks.filter((c) => c.status === 'fail').map((c) => `${c.component}: ${c.check}`);
const statuses = (r: ValidationReport) =>
  Object.fromEntries(r.checks.map((c) => [`${c.component}: ${c.check}`, c.status])) as Record<string, CheckStatus>;

async function connectorState(name: string) {
  const s = (await (await connectFetch(`${connectUrl}/connectors/${name}/status`)).json()) as {
    connector: { state: string };
    tasks: Array<{ state: string }>;
  };
  return [s.connector.state, ...s.tasks.map((t) => t.state)];
}
/** A few rows inserted reach the topic: the CDC task is streaming and its converter authenticates. */
async function deliversChanges() {
  const db = await adminClient(cfg, pipeline.database);
  try {
    const run = await underLoad(
      { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 10 },
      () => new Promise((r) => setTimeout(r, 1000)),
    );
    const events = summarize(run.emails, run.deliveries);
    expect(events.inserted).toBeGreaterThan(0);
    expect(events.lost).toBe(0);
  } finally {
    await db.end();
  }
}

async function waitConnector(name: string, state: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await connectorState(name)).every((s) => s === state)) {
    if (Date.now() > deadline) throw new Error(`${name} not ${state}: ${await connectorState(name)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('rekey validate on the embedded stack', () => {
  it('all: every line passes on a healthy stack, except what cannot be proven here, which is skipped with its reason', async () => {
    const r = await validate(['all'], 'other-validate-pipeline-passed');
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks).toHaveLength(30);
    // the secured Kafka: rekey's login, the served certificate, Connect's principal
    expect(line(r, 'kafka', checklist.kafka.login).evidence.saw).toMatch(/^User:rekey authenticated \(SCRAM-SHA-512\)/);
    expect(line(r, 'kafka', checklist.kafka.principal).evidence.saw).toMatch(
      /^User:kafka-connect\S*: SCRAM credential, [1-9]\d* ACL binding\(s\)$/,
    );
    const skipped = r.checks.filter((c) => c.status === 'skip');
    // enforcement needs a CNI; every address is an IP literal
    expect(skipped.map((c) => c.check).sort()).toEqual([checklist.network.enforced, checklist.network.dns].sort());
    // the registry's replicas keep their schemas in Kafka (kafkasql): its Kafka connection is proven by its journal topic
    expect(line(r, 'schema-registry', checklist['schema-registry'].kafka)).toMatchObject({
      status: 'pass',
      evidence: { saw: expect.stringMatching(/kafkasql-journal present/) },
    });
    expect(line(r, 'network', checklist.network.enforced).evidence.saw).toMatch(/kwok, no CNI/);
    expect(line(r, 's3', checklist.s3.partitioning).evidence.saw).toMatch(
      /topics\/ecommerce\.public\.users\/partition=0\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\//,
    );
    // evidence names what was asked and seen, never a secret value
    const secrets = await Promise.all(
      [pipeline.cdcSecret, pipeline.registrySecret, pipeline.awsSecret, pipeline.adminSecret].map((s) => store.read(s)),
    );
    const values = secrets.flatMap((s) =>
      Object.entries(s!.data)
        .filter(([k]) => /password|secret/.test(k))
        .map(([, v]) => v),
    );
    const text = JSON.stringify(r);
    for (const v of values) expect(text.includes(v), 'a secret value in the report').toBe(false);
  });

  it('postgresql: the CDC user without REPLICATION fails that line (workflow and CLI, exit code 1)', async () => {
    const user = (await store.read(pipeline.cdcSecret))!.data['db-username']!;
    const db = await adminClient(cfg, pipeline.database);
    try {
      await db.query(`ALTER ROLE ${db.escapeIdentifier(user)} NOREPLICATION`);
      const r = await validate(['postgresql']);
      expect(failed(r)).toEqual([`postgresql: ${checklist.postgresql.replicationPrivilege}`]);
      expect(line(r, 'postgresql', checklist.postgresql.replicationPrivilege).evidence.saw).toBe(
        `role ${user}: login true, replication false`,
      );
      const cli = await runCli(['validate', '--component', 'postgresql', '--json']);
      expect(cli.code).toBe(1);
      expect((JSON.parse(cli.stdout) as ValidationReport).summary).toEqual({ pass: 4, fail: 1, skip: 0 });
    } finally {
      await db.query(`ALTER ROLE ${db.escapeIdentifier(user)} REPLICATION`);
      await db.end();
    }
    expect((await validate(['postgresql'])).ok).toBe(true);
  });

  it('kafka-connect: a paused Debezium connector fails the connector and task lines', async () => {
    try {
      await connectFetch(`${connectUrl}/connectors/${pipeline.connector}/pause`, { method: 'PUT' });
      await waitConnector(pipeline.connector, 'PAUSED');
      const r = await validate(['kafka-connect']);
      expect(failed(r)).toEqual([
        `kafka-connect: ${checklist['kafka-connect'].connectorRunning}`,
        `kafka-connect: ${checklist['kafka-connect'].tasksRunning}`,
      ]);
      expect(line(r, 'kafka-connect', checklist['kafka-connect'].connectorRunning).evidence.saw).toMatch(
        /^connector PAUSED/,
      );
    } finally {
      await connectFetch(`${connectUrl}/connectors/${pipeline.connector}/resume`, { method: 'PUT' });
      await waitConnector(pipeline.connector, 'RUNNING');
      // REST says RUNNING before the resumed task has started (and read its credentials through the
      // config providers): wait until change events flow again, or the next test's wrong registry
      // password could be what the task reads (seen: the task FAILED with a 401, breaking later files)
      await deliversChanges();
    }
  });

  it('schema-registry: a client password the registry does not accept fails authentication', async () => {
    const original = (await store.read(pipeline.registrySecret))!;
    try {
      await store.write(
        pipeline.registrySecret,
        { 'developer-password': `wrong-${randomBytes(8).toString('hex')}` },
        { mergeKeys: true },
      );
      const r = await validate(['schema-registry']);
      expect(failed(r)).toEqual([`schema-registry: ${checklist['schema-registry'].auth}`]);
      expect(line(r, 'schema-registry', checklist['schema-registry'].auth).evidence.saw).toMatch(
        /developer \(developer[a-z0-9_]*\): HTTP 401/,
      );
    } finally {
      await store.write(pipeline.registrySecret, original.bytes);
    }
    expect((await validate(['schema-registry'])).ok).toBe(true);
  });

  it("kafka: a password the broker does not accept for rekey's own principal fails the login (and what it reads with it), not the certificate", async () => {
    const original = (await store.read(pipeline.rekeySaslSecret))!;
    try {
      await store.write(
        pipeline.rekeySaslSecret,
        { password: `wrong-${randomBytes(8).toString('hex')}` },
        { mergeKeys: true },
      );
      const r = await validate(['kafka']);
      expect(failed(r)).toEqual([`kafka: ${checklist.kafka.login}`, `kafka: ${checklist.kafka.principal}`]);
      expect(line(r, 'kafka', checklist.kafka.login).evidence.saw).toMatch(/authentication failed/i);
      expect(JSON.stringify(r)).not.toContain(original.data.password!);
    } finally {
      await store.write(pipeline.rekeySaslSecret, original.bytes);
    }
    expect((await validate(['kafka'])).ok).toBe(true);
  });

  it("s3: without the user's bucket policy the sink's key can no longer list the bucket", async () => {
    const iam = new IAMClient(await awsClientConfig(cfg));
    const policy = await iam.send(
      new GetUserPolicyCommand({ UserName: pipeline.awsUser, PolicyName: 'archive-bucket-only' }),
    );
    try {
      await iam.send(new DeleteUserPolicyCommand({ UserName: pipeline.awsUser, PolicyName: 'archive-bucket-only' }));
      const r = await validate(['s3']);
      expect(failed(r)).toEqual([`s3: ${checklist.s3.list}`]);
      expect(line(r, 's3', checklist.s3.list).evidence.saw).toMatch(/AccessDenied/);
      expect(statuses(r)[`s3: ${checklist.s3.credentials}`]).toBe('pass');
    } finally {
      await iam.send(
        new PutUserPolicyCommand({
          UserName: pipeline.awsUser,
          PolicyName: 'archive-bucket-only',
          PolicyDocument: decodeURIComponent(policy.PolicyDocument!),
        }),
      );
      await connectFetch(`${connectUrl}/connectors/s3-sink-connector/restart?includeTasks=true&onlyFailed=true`, {
        method: 'POST',
      });
    }
    expect((await validate(['s3'])).ok).toBe(true);
  });

  it('rbac and network: deleting the default-deny NetworkPolicy through the API fails "configured" and "external access restricted"', async () => {
    const net = adminKubeConfig(cfg).makeApiClient(NetworkingV1Api);
    const name = 'default-deny-ingress';
    const saved = await net.readNamespacedNetworkPolicy({ name, namespace: kubeNamespace });
    try {
      await net.deleteNamespacedNetworkPolicy({ name, namespace: kubeNamespace });
      const r = await validate(['rbac', 'network']);
      expect(failed(r)).toEqual([`network: ${checklist.network.external}`, `rbac: ${checklist.rbac.networkPolicies}`]);
      expect(line(r, 'rbac', checklist.rbac.networkPolicies).evidence.saw).toMatch(/missing: default-deny-ingress$/);
    } finally {
      await net.createNamespacedNetworkPolicy({
        namespace: kubeNamespace,
        body: { metadata: { name, namespace: kubeNamespace, labels: saved.metadata?.labels }, spec: saved.spec },
      });
    }
    expect((await validate(['rbac', 'network'])).ok).toBe(true);
  });

  it('CLI: --component postgresql --json prints the report and exits 0; an unknown component is named', async () => {
    const ok = await runCli(['validate', '--component', 'postgresql', '--json']);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as ValidationReport;
    expect(report).toMatchObject({ ok: true, components: ['postgresql'], summary: { pass: 5, fail: 0, skip: 0 } });
    expect(report.checks.map((c) => c.check)).toEqual(Object.values(checklist.postgresql));
    const bad = await runCli(['validate', '--component', 'postgres']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(
      /unknown component "postgres": use all\|postgresql\|kafka-connect\|schema-registry\|kafka\|s3\|network\|rbac/,
    );
  });
});

/** The real CLI, on this file's worker's task queue. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', 'scripts/rekey.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, REKEY_TASK_QUEUE: w.taskQueue },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
