import { ApplicationFailure } from '@temporalio/activity';
import { AppsV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1NetworkPolicyPeer } from '@kubernetes/client-node';
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

export interface IsolationRecord {
  deployment: string;
  namespace: string;
  /** spec.replicas before isolation: what restore puts back. */
  replicas: number;
  matchLabels: Record<string, string>;
  policy: string;
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const isolationPolicyName = (deployment: string) => `rekey-emergency-isolate-${deployment}`.slice(0, 253);

/**
 * The runbook's "Service Compromise" isolation through the Kubernetes API: an emergency
 * NetworkPolicy (deny all but what the operator lists) and a scale to 0 through the
 * deployments/scale subresource (RBAC grants scale, not the whole Deployment). Idempotent.
 */
export function createIsolationActivities(deps: { kubeConfig: KubeConfig; namespace: string }) {
  const { namespace } = deps;
  const apps = deps.kubeConfig.makeApiClient(AppsV1Api);
  const net = deps.kubeConfig.makeApiClient(NetworkingV1Api);

  async function call<T>(verb: string, target: string, fn: () => Promise<T>, ok?: number): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (ok !== undefined && (err as { code?: number }).code === ok) return undefined;
      const e = explain(err, verb, target, namespace);
      if (/^(forbidden|unauthorized)|not found/.test(e.message)) throw ApplicationFailure.nonRetryable(e.message, 'KubernetesAccess');
      throw ApplicationFailure.retryable(e.message, 'KubernetesApi');
    }
  }

  /** What isolation records before it changes anything; an emergency policy already in place (an earlier isolation) is reported. */
  async function inspectDeployment(input: { deployment: string }): Promise<IsolationRecord & { alreadyIsolated: boolean }> {
    const d = (await call('get', `deployments/${input.deployment}`, () => apps.readNamespacedDeployment({ name: input.deployment, namespace })))!;
    const policy = isolationPolicyName(input.deployment);
    const existing = await call('get', `networkpolicies/${policy}`, () => net.readNamespacedNetworkPolicy({ name: policy, namespace }), 404);
    const matchLabels = d.spec?.selector?.matchLabels ?? {};
    if (Object.keys(matchLabels).length === 0) throw ApplicationFailure.nonRetryable(`deployments/${input.deployment} selects its pods without matchLabels; isolate it by hand`, 'UnsupportedSelector');
    return { deployment: input.deployment, namespace, replicas: d.spec?.replicas ?? 1, matchLabels, policy, alreadyIsolated: Boolean(existing) };
  }

  async function applyEmergencyPolicy(input: { record: IsolationRecord; allow: IsolationAllow[]; reason: string; workflowId: string }): Promise<{ created: boolean }> {
    const { record } = input;
    const peer = (a: IsolationAllow): V1NetworkPolicyPeer => (a.cidr ? { ipBlock: { cidr: a.cidr } } : { podSelector: { matchLabels: a.podLabels ?? {} } });
    const ports = (a: IsolationAllow) => (a.port ? [{ port: a.port, protocol: 'TCP' }] : undefined);
    const body = {
      metadata: {
        name: record.policy,
        labels: { 'app.kubernetes.io/managed-by': 'rekey', 'rekey.dev/emergency': 'isolate' },
        // the record restore uses also lives with the policy, for an operator with kubectl
        annotations: { 'rekey.dev/replicas-before': String(record.replicas), 'rekey.dev/reason': input.reason.slice(0, 500), 'rekey.dev/workflow-id': input.workflowId },
      },
      spec: {
        podSelector: { matchLabels: record.matchLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: input.allow.filter((a) => a.direction === 'ingress').map((a) => ({ _from: [peer(a)], ports: ports(a) })),
        egress: input.allow.filter((a) => a.direction === 'egress').map((a) => ({ to: [peer(a)], ports: ports(a) })),
      },
    };
    const created = await call('create', `networkpolicies/${record.policy}`, () => net.createNamespacedNetworkPolicy({ namespace, body }), 409);
    return { created: Boolean(created) };
  }

  async function removeEmergencyPolicy(input: { policy: string }): Promise<{ removed: boolean }> {
    const done = await call('delete', `networkpolicies/${input.policy}`, () => net.deleteNamespacedNetworkPolicy({ name: input.policy, namespace }), 404);
    return { removed: Boolean(done) };
  }

  /** Sets spec.replicas through the scale subresource; returns what it was. */
  async function scaleDeployment(input: { deployment: string; replicas: number }): Promise<{ previous: number; replicas: number }> {
    const target = `deployments/${input.deployment}/scale`;
    const current = (await call('get', target, () => apps.readNamespacedDeploymentScale({ name: input.deployment, namespace })))!;
    await call('patch', target, () => apps.patchNamespacedDeploymentScale({ name: input.deployment, namespace, body: { spec: { replicas: input.replicas } } }, merge));
    return { previous: current.spec?.replicas ?? 0, replicas: input.replicas };
  }

  return { inspectDeployment, applyEmergencyPolicy, removeEmergencyPolicy, scaleDeployment };
}
