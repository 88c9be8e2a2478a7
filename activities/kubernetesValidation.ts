import type { KubeConfig, V1NetworkPolicy, V1PodSpec } from '@kubernetes/client-node';
import { kubernetesClient } from './kubernetesClient.js';
import { fail, list, pass, runCheck, skip, verdict, type CheckResult, type Finding } from './checks.js';
import { checklist } from '../contracts/checklist.js';

export interface WorkloadName {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
}

export interface RbacValidationInput {
  serviceAccounts: string[];
  /** Secrets that must exist, with the keys each must hold (names only are reported). */
  secrets: Array<{ name: string; keys: string[] }>;
  networkPolicies: string[];
  /** Workloads whose pod template and running pods must carry a restrictive security context. */
  workloads: WorkloadName[];
}

const NO_API =
  'no Kubernetes API configured for this worker (REKEY_SECRET_STORE=file without REKEY_K8S_NAMESPACE/KUBECONFIG)';

/** A default-deny ingress policy: selects every pod, declares Ingress, allows nothing. */
const isDefaultDenyIngress = (p: V1NetworkPolicy) =>
  Object.keys(p.spec?.podSelector?.matchLabels ?? {}).length === 0 &&
  !(p.spec?.podSelector?.matchExpressions ?? []).length &&
  (p.spec?.policyTypes ?? []).includes('Ingress') &&
  (p.spec?.ingress ?? []).length === 0;

/** What a pod spec lacks of a restricted security context (runAsNonRoot, no privilege escalation, not privileged, capabilities dropped). */
function securityGaps(spec: V1PodSpec | undefined): string[] {
  const podNonRoot = spec?.securityContext?.runAsNonRoot === true;
  return (spec?.containers ?? []).flatMap((c) => {
    const sc = c.securityContext ?? {};
    const gaps: string[] = [];
    if (!(sc.runAsNonRoot ?? podNonRoot)) gaps.push('runAsNonRoot');
    if (sc.allowPrivilegeEscalation !== false) gaps.push('allowPrivilegeEscalation=false');
    if (sc.privileged === true) gaps.push('not privileged');
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) gaps.push('capabilities.drop ALL');
    return gaps.map((g) => `${c.name}: ${g}`);
  });
}

/** The Kubernetes lines of the checklist (RBAC and the network policies), through the API, read only. */
export function createKubernetesValidation(deps: { kubernetes?: { kubeConfig: KubeConfig; namespace: string } }) {
  const k = deps.kubernetes;
  const ns = k?.namespace ?? '(none)';
  // no cluster configured: the client is never loaded (the checks are skipped)
  const api = k ? kubernetesClient() : undefined;
  const core = api && k?.kubeConfig.makeApiClient(api.CoreV1Api);
  const apps = api && k?.kubeConfig.makeApiClient(api.AppsV1Api);
  const net = api && k?.kubeConfig.makeApiClient(api.NetworkingV1Api);
  const code = (err: unknown) => (err as { code?: number }).code;
  const exists = async (read: () => Promise<unknown>) =>
    read().then(
      () => true,
      (e: unknown) => (code(e) === 404 ? false : Promise.reject(e)),
    );
  const guarded = (probe: () => Promise<Finding>) => (k ? probe : async () => skip(NO_API));

  async function serviceAccounts(input: RbacValidationInput) {
    const fromWorkloads = await Promise.all(
      input.workloads.map(async (w) => (await template(w))?.serviceAccountName ?? 'default'),
    );
    const wanted = [...new Set([...input.serviceAccounts, ...fromWorkloads])].sort();
    const missing: string[] = [];
    for (const name of wanted)
      if (!(await exists(() => core!.readNamespacedServiceAccount({ name, namespace: ns })))) missing.push(name);
    return verdict(missing.length === 0, `wanted ${list(wanted)}; missing: ${list(missing)}`);
  }

  async function secrets(input: RbacValidationInput) {
    const seen: string[] = [];
    let ok = true;
    for (const s of input.secrets) {
      const secret = await core!
        .readNamespacedSecret({ name: s.name, namespace: ns })
        .catch((e: unknown) => (code(e) === 404 ? undefined : Promise.reject(e)));
      const keys = Object.keys(secret?.data ?? {});
      const lacking = s.keys.filter((key) => !keys.includes(key));
      ok &&= Boolean(secret) && lacking.length === 0;
      seen.push(
        secret
          ? `${s.name} (${keys.length} keys${lacking.length ? `, lacks ${list(lacking)}` : ''})`
          : `${s.name} missing`,
      );
    }
    return verdict(ok, seen.join('; '));
  }

  async function policies(): Promise<V1NetworkPolicy[]> {
    return (await net!.listNamespacedNetworkPolicy({ namespace: ns })).items ?? [];
  }

  async function template(w: WorkloadName): Promise<V1PodSpec | undefined> {
    const obj =
      w.kind === 'Deployment'
        ? await apps!.readNamespacedDeployment({ name: w.name, namespace: ns })
        : await apps!.readNamespacedStatefulSet({ name: w.name, namespace: ns });
    return obj.spec?.template.spec;
  }

  async function podSecurity(input: RbacValidationInput) {
    const gaps: string[] = [];
    let pods = 0;
    for (const w of input.workloads) {
      const obj =
        w.kind === 'Deployment'
          ? await apps!.readNamespacedDeployment({ name: w.name, namespace: ns })
          : await apps!.readNamespacedStatefulSet({ name: w.name, namespace: ns });
      gaps.push(...securityGaps(obj.spec?.template.spec).map((g) => `${w.kind}/${w.name} template ${g}`));
      const selector = Object.entries(obj.spec?.selector.matchLabels ?? {})
        .map(([a, b]) => `${a}=${b}`)
        .join(',');
      for (const p of (await core!.listNamespacedPod({ namespace: ns, labelSelector: selector })).items ?? []) {
        if (p.metadata?.deletionTimestamp) continue;
        pods++;
        gaps.push(...securityGaps(p.spec).map((g) => `pod ${p.metadata?.name} ${g}`));
      }
    }
    return verdict(
      gaps.length === 0,
      `${input.workloads.length} workload template(s) and ${pods} running pod(s); lacking: ${list(gaps.slice(0, 6))}${gaps.length > 6 ? ` (+${gaps.length - 6})` : ''}`,
    );
  }

  async function validateKubernetesRbac(input: RbacValidationInput): Promise<CheckResult[]> {
    const lines = checklist.rbac;
    const check = (line: string, queried: string, expected: string, probe: () => Promise<Finding>) =>
      runCheck('rbac', line, queried, expected, guarded(probe));
    return [
      await check(
        lines.serviceAccounts,
        `GET serviceaccounts in ${ns} (listed ones and those the workloads run as)`,
        'every one exists',
        () => serviceAccounts(input),
      ),
      await check(
        lines.secrets,
        `GET secrets ${list(input.secrets.map((s) => s.name))} in ${ns} (key names only)`,
        'each exists with its keys',
        () => secrets(input),
      ),
      await check(
        lines.networkPolicies,
        `LIST networkpolicies in ${ns}`,
        `${list(input.networkPolicies)} present`,
        async () => {
          const names = (await policies()).map((p) => p.metadata?.name ?? '?');
          const missing = input.networkPolicies.filter((n) => !names.includes(n));
          return verdict(missing.length === 0, `present: ${list(names)}; missing: ${list(missing)}`);
        },
      ),
      await check(
        lines.podSecurity,
        `pod templates of ${list(input.workloads.map((w) => `${w.kind}/${w.name}`))} and their running pods`,
        'runAsNonRoot, allowPrivilegeEscalation=false, not privileged, capabilities drop ALL on every container',
        () => podSecurity(input),
      ),
    ];
  }

  /** The two network lines answered from the API: enforcement (which needs traffic through a CNI) and exposure. */
  async function validateNetworkPolicies(): Promise<CheckResult[]> {
    const lines = checklist.network;
    return [
      await runCheck(
        'network',
        lines.enforced,
        `LIST networkpolicies in ${ns}`,
        'proof that traffic a policy denies is dropped',
        guarded(async () => {
          const n = (await policies()).length;
          return skip(
            `${n} policies configured (see rbac); enforcement is the CNI's job and can only be proven by sending denied traffic between pods, which a read-only check does not do. On the embedded control plane (kwok, no CNI) policies are stored but never enforced`,
          );
        }),
      ),
      await runCheck(
        'network',
        lines.external,
        `LIST networkpolicies and services in ${ns}`,
        'a default-deny ingress policy selects every pod; no NodePort/LoadBalancer service and no externalIPs',
        guarded(async () => {
          const deny = (await policies()).filter(isDefaultDenyIngress).map((p) => p.metadata?.name ?? '?');
          const services = (await core!.listNamespacedService({ namespace: ns })).items ?? [];
          const exposed = services
            .filter(
              (s) =>
                ['NodePort', 'LoadBalancer'].includes(s.spec?.type ?? '') || (s.spec?.externalIPs ?? []).length > 0,
            )
            .map((s) => `${s.metadata?.name} (${s.spec?.type})`);
          const saw = `default-deny ingress: ${list(deny)}; ${services.length} services, exposed outside the cluster: ${list(exposed)}`;
          return deny.length > 0 && exposed.length === 0 ? pass(saw) : fail(saw);
        }),
      ),
    ];
  }

  return { validateKubernetesRbac, validateNetworkPolicies };
}
