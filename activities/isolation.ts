import { ApplicationFailure, Context } from '@temporalio/activity';
import type { KubeConfig, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { kubernetesClient, mergePatch } from './kubernetesClient.js';
import { explain } from './secrets/kubernetesStore.js';

/** One thing an isolated workload may still reach, or be reached from, as the operator listed it. */
export interface IsolationAllow {
  direction: 'ingress' | 'egress';
  /** Pods in the namespace with these labels… */
  podLabels?: Record<string, string>;
  /** …or an IP block (CIDR). */
  cidr?: string;
  port?: number;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet';

export interface IsolationRecord {
  /** The workload's name (a Deployment's, or a StatefulSet's with kind). */
  deployment: string;
  kind?: WorkloadKind;
  namespace: string;
  /** spec.replicas before isolation: what restore puts back. */
  replicas: number;
  matchLabels: Record<string, string>;
  policy: string;
}

export const isolationPolicyName = (deployment: string, kind?: WorkloadKind) =>
  `rekey-emergency-isolate-${kind === 'StatefulSet' ? 'sts-' : ''}${deployment}`.slice(0, 253);
const pathOf = (name: string, kind?: WorkloadKind) =>
  `${kind === 'StatefulSet' ? 'statefulsets' : 'deployments'}/${name}`;

/**
 * The runbook's "Service Compromise" isolation through the Kubernetes API: an emergency
 * NetworkPolicy (deny all but what the operator lists) and a scale to 0 through the
 * deployments/scale or statefulsets/scale subresource (RBAC grants scale, not the whole
 * workload). A StatefulSet (the registry, PostgreSQL) is isolated the same way. Idempotent.
 */
export function createIsolationActivities(deps: { kubeConfig: KubeConfig; namespace: string }) {
  const { namespace } = deps;
  const { AppsV1Api, NetworkingV1Api } = kubernetesClient();
  const apps = deps.kubeConfig.makeApiClient(AppsV1Api);
  const net = deps.kubeConfig.makeApiClient(NetworkingV1Api);
  const merge = mergePatch();

  async function call<T>(verb: string, target: string, fn: () => Promise<T>, ok?: number): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (ok !== undefined && (err as { code?: number }).code === ok) return undefined;
      const e = explain(err, verb, target, namespace);
      if (/^(forbidden|unauthorized)|not found/.test(e.message))
        throw ApplicationFailure.nonRetryable(e.message, 'KubernetesAccess');
      throw ApplicationFailure.retryable(e.message, 'KubernetesApi');
    }
  }

  /** What isolation records before it changes anything; an emergency policy already in place (an earlier isolation) is reported. */
  async function inspectDeployment(input: {
    deployment: string;
    kind?: WorkloadKind;
  }): Promise<
    IsolationRecord & { alreadyIsolated: boolean; existing?: { workflowId?: string; replicasBefore?: string } }
  > {
    const path = pathOf(input.deployment, input.kind);
    const read = { name: input.deployment, namespace };
    const d = (await call('get', path, () =>
      input.kind === 'StatefulSet' ? apps.readNamespacedStatefulSet(read) : apps.readNamespacedDeployment(read),
    ))!;
    const policy = isolationPolicyName(input.deployment, input.kind);
    const existing = await call(
      'get',
      `networkpolicies/${policy}`,
      () => net.readNamespacedNetworkPolicy({ name: policy, namespace }),
      404,
    );
    const matchLabels = d.spec?.selector?.matchLabels ?? {};
    // matchExpressions would be dropped by a matchLabels-only record: the policy must select exactly the workload's pods
    if (Object.keys(matchLabels).length === 0 || (d.spec?.selector?.matchExpressions?.length ?? 0) > 0) {
      throw ApplicationFailure.nonRetryable(
        `${path} selects its pods with matchExpressions, not matchLabels alone; isolate it by hand`,
        'UnsupportedSelector',
      );
    }
    const notes = existing?.metadata?.annotations ?? {};
    return {
      deployment: input.deployment,
      ...(input.kind === 'StatefulSet' ? { kind: input.kind } : {}),
      namespace,
      replicas: d.spec?.replicas ?? 1,
      matchLabels,
      policy,
      alreadyIsolated: Boolean(existing),
      ...(existing
        ? {
            existing: {
              workflowId: notes['rekey.dev/workflow-id'],
              replicasBefore: notes['rekey.dev/replicas-before'],
            },
          }
        : {}),
    };
  }

  async function applyEmergencyPolicy(input: {
    record: IsolationRecord;
    allow: IsolationAllow[];
    reason: string;
    workflowId: string;
    runId?: string;
  }): Promise<{ created: boolean }> {
    const { record } = input;
    // which run made the policy: an undo or restore removes only its own
    const runId = input.runId ?? Context.current().info.workflowExecution?.runId ?? '';
    const peer = (a: IsolationAllow): V1NetworkPolicyPeer =>
      a.cidr ? { ipBlock: { cidr: a.cidr } } : { podSelector: { matchLabels: a.podLabels ?? {} } };
    const ports = (a: IsolationAllow) => (a.port ? [{ port: a.port, protocol: 'TCP' }] : undefined);
    const body = {
      metadata: {
        name: record.policy,
        labels: { 'app.kubernetes.io/managed-by': 'rekey', 'rekey.dev/emergency': 'isolate' },
        // the record restore uses also lives with the policy, for an operator with kubectl
        annotations: {
          'rekey.dev/replicas-before': String(record.replicas),
          'rekey.dev/reason': input.reason.slice(0, 500),
          'rekey.dev/workflow-id': input.workflowId,
          'rekey.dev/run-id': runId,
        },
      },
      spec: {
        podSelector: { matchLabels: record.matchLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: input.allow
          .filter((a) => a.direction === 'ingress')
          .map((a) => ({ _from: [peer(a)], ports: ports(a) })),
        egress: input.allow.filter((a) => a.direction === 'egress').map((a) => ({ to: [peer(a)], ports: ports(a) })),
      },
    };
    const created = await call(
      'create',
      `networkpolicies/${record.policy}`,
      () => net.createNamespacedNetworkPolicy({ namespace, body }),
      409,
    );
    if (created) return { created: true };
    // 409: this run's earlier attempt (its response lost) is fine; anyone else's policy is not ours to claim, nor to delete on undo
    const found = await call('get', `networkpolicies/${record.policy}`, () =>
      net.readNamespacedNetworkPolicy({ name: record.policy, namespace }),
    );
    const notes = found?.metadata?.annotations ?? {};
    if (notes['rekey.dev/workflow-id'] === input.workflowId && notes['rekey.dev/run-id'] === runId)
      return { created: false };
    throw ApplicationFailure.nonRetryable(
      `networkpolicies/${record.policy} appeared while isolating (workflow ${notes['rekey.dev/workflow-id'] ?? 'unknown'}): another isolation of ${pathOf(record.deployment, record.kind)} is under way`,
      'EmergencyPolicyExists',
    );
  }

  /**
   * Deletes the emergency policy. With `ownedBy`, only the one that workflow run created (its
   * annotations), so an undo never removes another isolation's policy; the uid precondition
   * keeps a policy replaced in between.
   */
  async function removeEmergencyPolicy(input: {
    policy: string;
    ownedBy?: { workflowId: string; runId: string };
  }): Promise<{ removed: boolean }> {
    let uid: string | undefined;
    if (input.ownedBy) {
      const found = await call(
        'get',
        `networkpolicies/${input.policy}`,
        () => net.readNamespacedNetworkPolicy({ name: input.policy, namespace }),
        404,
      );
      if (!found) return { removed: false };
      const notes = found.metadata?.annotations ?? {};
      if (
        notes['rekey.dev/workflow-id'] !== input.ownedBy.workflowId ||
        notes['rekey.dev/run-id'] !== input.ownedBy.runId
      )
        return { removed: false };
      uid = found.metadata?.uid;
    }
    const body = uid ? { preconditions: { uid } } : undefined;
    const done = await call(
      'delete',
      `networkpolicies/${input.policy}`,
      () => net.deleteNamespacedNetworkPolicy({ name: input.policy, namespace, body }),
      404,
    );
    return { removed: Boolean(done) };
  }

  /** Sets spec.replicas through the scale subresource (a Deployment's or a StatefulSet's); returns what it was. */
  async function scaleDeployment(input: {
    deployment: string;
    replicas: number;
    kind?: WorkloadKind;
  }): Promise<{ previous: number; replicas: number }> {
    const target = `${pathOf(input.deployment, input.kind)}/scale`;
    const ref = { name: input.deployment, namespace };
    const body = { spec: { replicas: input.replicas } };
    const sts = input.kind === 'StatefulSet';
    const current = (await call('get', target, () =>
      sts ? apps.readNamespacedStatefulSetScale(ref) : apps.readNamespacedDeploymentScale(ref),
    ))!;
    await call('patch', target, () =>
      sts
        ? apps.patchNamespacedStatefulSetScale({ ...ref, body }, merge)
        : apps.patchNamespacedDeploymentScale({ ...ref, body }, merge),
    );
    return { previous: current.spec?.replicas ?? 0, replicas: input.replicas };
  }

  return { inspectDeployment, applyEmergencyPolicy, removeEmergencyPolicy, scaleDeployment };
}
