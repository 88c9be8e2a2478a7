import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { AuditEvent } from '../../activities/audit.js';
import type { IsolationAllow, IsolationRecord } from '../../activities/isolation.js';
import {
  isolationQuery,
  type IsolationState,
  isolationWorkflowId,
  restoreSignal,
} from '../../workflows/emergency/definitions.js';
import type { IsolationInput } from '../../contracts/input/isolation.js';
import { isolateDeployment } from '../../workflows/emergency/isolate.js';
import { failureOf, timeSkippingEnv, workflowBundle } from './harness.js';

/** A stub cluster: one deployment's replicas, the emergency policies, and which calls fail (non-retryably, so the saga runs at once). */
class Cluster {
  replicas = 3;
  readonly policies = new Map<string, { workflowId: string; runId?: string; allow: IsolationAllow[] }>();
  readonly calls: string[] = [];
  readonly audit: AuditEvent[] = [];
  /** name → how many more calls fail (Infinity: all). */
  readonly failing = new Map<string, number>();

  constructor(readonly deployment: string) {}

  private gate(name: string, detail: string) {
    this.calls.push(`${name} ${detail}`);
    const left = this.failing.get(name) ?? 0;
    if (left > 0) {
      this.failing.set(name, left - 1);
      throw ApplicationFailure.nonRetryable(`${name} broken in this test`, 'KubernetesAccess');
    }
  }

  activities() {
    const policy = `rekey-emergency-isolate-${this.deployment}`;
    return {
      inspectDeployment: async (i: { deployment: string }) => {
        this.gate('inspectDeployment', i.deployment);
        const existing = this.policies.get(policy);
        return {
          deployment: i.deployment,
          namespace: 'data-ingestion',
          replicas: this.replicas,
          matchLabels: { app: i.deployment },
          policy,
          alreadyIsolated: Boolean(existing),
          ...(existing ? { existing: { workflowId: existing.workflowId, replicasBefore: '3' } } : {}),
        };
      },
      applyEmergencyPolicy: async (i: {
        record: IsolationRecord;
        allow: IsolationAllow[];
        workflowId: string;
        runId?: string;
      }) => {
        this.gate('applyEmergencyPolicy', i.record.policy);
        this.policies.set(i.record.policy, { workflowId: i.workflowId, runId: i.runId, allow: i.allow });
        return { created: true };
      },
      removeEmergencyPolicy: async (i: { policy: string; ownedBy?: { workflowId: string; runId: string } }) => {
        this.gate('removeEmergencyPolicy', i.policy);
        const p = this.policies.get(i.policy);
        if (!p || (i.ownedBy && p.runId !== i.ownedBy.runId)) return { removed: false };
        this.policies.delete(i.policy);
        return { removed: true };
      },
      scaleDeployment: async (i: { deployment: string; replicas: number }) => {
        this.gate('scaleDeployment', String(i.replicas));
        const previous = this.replicas;
        this.replicas = i.replicas;
        return { previous, replicas: i.replicas };
      },
      appendAudit: async (e: AuditEvent) => {
        this.audit.push(e);
      },
    };
  }
}

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let cluster = new Cluster('unused');
const taskQueue = `isolate-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  env = await timeSkippingEnv();
  type Fn = (input: unknown) => Promise<unknown>;
  const names = Object.keys(cluster.activities());
  const activities = Object.fromEntries(
    names.map((n) => [n, (input: unknown) => (cluster.activities() as unknown as Record<string, Fn>)[n]!(input)]),
  );
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

let n = 0;
function newCluster(): Cluster {
  cluster = new Cluster(`victim-${++n}-${randomBytes(2).toString('hex')}`);
  return cluster;
}
const input = (c: Cluster, extra: Partial<IsolationInput> = {}): IsolationInput => ({
  deployment: c.deployment,
  reason: 'suspected compromise in a test',
  requestedBy: 'workflow-test',
  ...extra,
});
const start = (c: Cluster, extra: Partial<IsolationInput> = {}, workflowId = isolationWorkflowId(c.deployment)) =>
  env.client.workflow.start(isolateDeployment, { taskQueue, workflowId, args: [input(c, extra)] });

async function waitState(h: WorkflowHandle, test: (s: IsolationState) => boolean): Promise<IsolationState> {
  const deadline = Date.now() + 30_000;
  let last: IsolationState | undefined;
  while (Date.now() < deadline) {
    last = await h.query(isolationQuery).catch(() => last);
    if (last && test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out; last phase ${last?.phase}, steps ${last?.steps.map((s) => `${s.name}:${s.outcome}`).join(' ')}`,
  );
}

describe('isolateDeployment with a stub cluster', () => {
  it('cuts the network first, then scales to 0, holds the record; restore puts back exactly the recorded replicas and removes only its policy', async () => {
    const c = newCluster();
    const allow: IsolationAllow[] = [{ direction: 'egress', cidr: '10.0.0.0/8', port: 443 }];
    const h = await start(c, { allow });
    const s = await waitState(h, (x) => x.phase === 'isolated');
    expect(c.calls).toEqual([
      `inspectDeployment ${c.deployment}`,
      `applyEmergencyPolicy rekey-emergency-isolate-${c.deployment}`,
      'scaleDeployment 0',
    ]);
    expect(s.record).toMatchObject({ replicas: 3, matchLabels: { app: c.deployment } });
    expect(c.replicas).toBe(0);
    expect(c.policies.get(`rekey-emergency-isolate-${c.deployment}`)?.allow).toEqual(allow);

    await h.signal(restoreSignal, { by: 42 } as never); // malformed: ignored and recorded
    const ignored = await waitState(h, (x) => x.steps.some((st) => st.name === 'signal:restore'));
    expect(ignored.phase).toBe('isolated');
    expect(ignored.steps.find((st) => st.name === 'signal:restore')).toMatchObject({
      outcome: 'ignored',
      detail: expect.stringMatching(/malformed input ignored — by:/),
    });

    c.replicas = 5; // someone changed it meanwhile: restore still puts back what was recorded
    await h.signal(restoreSignal, { reason: 'forensics done', by: 'alice' });
    const result = await h.result();
    expect(result).toMatchObject({
      status: 'restored',
      restoredBy: 'alice',
      restoreReason: 'forensics done',
      record: { replicas: 3 },
      auditGaps: 0,
    });
    expect(c.replicas).toBe(3);
    expect(c.policies.size).toBe(0);
    expect(c.calls.slice(3)).toEqual([
      'scaleDeployment 3',
      `removeEmergencyPolicy rekey-emergency-isolate-${c.deployment}`,
    ]);
    const actions = c.audit.map((e) => e.action);
    expect(actions).toEqual([
      'isolation_started',
      'record_deployment',
      'apply_emergency_policy',
      'scale_to_zero',
      'isolated',
      'restore',
      'restore',
      'restore_replicas',
      'remove_emergency_policy',
      'restored',
    ]);
    expect(new Set(c.audit.map((e) => e.component))).toEqual(new Set(['emergency']));
    expect(c.audit.find((e) => e.action === 'restore' && e.status === 'skipped')?.event_type).toBe('signal');
  });

  it('a failure halfway (scale refused) undoes the emergency policy and fails, naming the cause', async () => {
    const c = newCluster();
    c.failing.set('scaleDeployment', 1);
    const h = await start(c);
    const failure = await failureOf(h);
    expect(failure).toMatchObject({
      type: 'IsolationRolledBack',
      message: expect.stringMatching(/failed and was undone: KubernetesAccess: scaleDeployment broken/),
    });
    expect(c.policies.size).toBe(0);
    expect(c.replicas).toBe(3);
    const s = await h.query(isolationQuery);
    expect(s.phase).toBe('rolled-back');
    expect(s.steps.map((st) => `${st.name}:${st.outcome}`)).toContain('undo:apply-emergency-policy:compensated');
    expect(c.audit.map((e) => `${e.event_type}/${e.action}/${e.status}`)).toEqual(
      expect.arrayContaining([
        'compensation/compensate_apply-emergency-policy/success',
        'compensation/isolation/rolled_back',
      ]),
    );
  });

  it('an undo that still fails is reported as left by hand', async () => {
    const c = newCluster();
    c.failing.set('scaleDeployment', 1);
    c.failing.set('removeEmergencyPolicy', Infinity);
    const failure = await failureOf(await start(c));
    expect(failure?.type).toBe('IsolationRolledBack');
    expect(failure?.message).toMatch(
      new RegExp(`left to do by hand: delete networkpolicies/rekey-emergency-isolate-${c.deployment}`),
    );
  });

  it('refuses a deployment that already carries the emergency policy, changing nothing', async () => {
    const c = newCluster();
    c.policies.set(`rekey-emergency-isolate-${c.deployment}`, { workflowId: 'emergency-isolate/earlier', allow: [] });
    const failure = await failureOf(await start(c));
    expect(failure).toMatchObject({
      type: 'AlreadyIsolated',
      message: expect.stringMatching(/already isolated by emergency-isolate\/earlier.*rekey emergency restore/),
    });
    expect(c.calls).toEqual([`inspectDeployment ${c.deployment}`]);
  });

  it('a restore that fails keeps the isolation and the record; the next restore completes', async () => {
    const c = newCluster();
    const h = await start(c);
    await waitState(h, (x) => x.phase === 'isolated');
    c.failing.set('scaleDeployment', 1);
    await h.signal(restoreSignal, { by: 'bob' });
    const s = await waitState(h, (x) => x.restores[0]?.outcome === 'failed');
    expect(s.phase).toBe('isolated');
    expect(s.restores[0]!.error).toMatch(/scaleDeployment broken/);
    await h.signal(restoreSignal, { by: 'bob' });
    expect((await h.result()).record.replicas).toBe(3);
    expect(c.replicas).toBe(3);
  });

  it('refuses another workflow id, and input without a real reason, naming the field', async () => {
    const c = newCluster();
    expect(await failureOf(await start(c, {}, `isolate-${c.deployment}`))).toMatchObject({
      type: 'NonCanonicalWorkflowId',
      message: expect.stringContaining(isolationWorkflowId(c.deployment)),
    });
    expect(await failureOf(await start(c, { reason: 'because' }))).toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/reason: say in at least 10 characters/),
    });
    const tooMany = Array.from({ length: 21 }, () => ({ direction: 'ingress' as const, cidr: '10.0.0.0/8' }));
    expect((await failureOf(await start(c, { allow: tooMany })))?.message).toMatch(/allow: at most 20/);
    expect(c.calls).toEqual([]);
  });
});
