import { z } from 'zod';

/** Deployment names are DNS-1123 subdomains; at most 229 characters so `rekey-emergency-isolate-<name>` fits the 253 of a NetworkPolicy name. */
export const deploymentName = z
  .string()
  .max(229, 'must be at most 229 characters (the emergency policy is named rekey-emergency-isolate-<deployment>)')
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a Kubernetes object name: lowercase letters, digits, "-" and "."',
  );

// Kubernetes label syntax: an optional DNS prefix and a name of at most 63 characters; values may be empty
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'must be a Kubernetes label key such as app or app.kubernetes.io/name',
  );
const labelValue = z
  .string()
  .regex(
    /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/,
    'must be a Kubernetes label value (at most 63 letters, digits, "-", "_", ".")',
  );

const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const ipv6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;
const cidr = z
  .string()
  .max(50)
  .refine((v) => ipv4.test(v) || ipv6.test(v), 'must be a CIDR such as 10.0.0.0/8 or fd00::/8');

/** One peer the isolated pods may still talk to: pods of this namespace by labels, or an IP block; optionally one TCP port. */
export const IsolationAllowInput = z
  .object({
    direction: z.enum(['ingress', 'egress']),
    podLabels: z
      .record(labelKey, labelValue)
      .refine(
        (l) => Object.keys(l).length >= 1,
        'name at least one label (no labels would select every pod of the namespace)',
      )
      .refine((l) => Object.keys(l).length <= 10, 'at most 10 labels')
      .optional(),
    cidr: cidr.optional(),
    port: z.number().int().min(1).max(65535).optional(),
  })
  .strict()
  .refine((a) => (a.podLabels === undefined) !== (a.cidr === undefined), {
    message: 'give exactly one of podLabels or cidr',
  });

/**
 * Input of `isolateDeployment` (plain JSON, so the Web UI and `temporal workflow start` can
 * start it). Everything not listed in `allow` is cut, both directions.
 */
export const IsolationInput = z
  .object({
    deployment: deploymentName.describe('the workload to isolate (a Deployment, or a StatefulSet with kind)'),
    kind: z
      .enum(['Deployment', 'StatefulSet'])
      .default('Deployment')
      .describe('StatefulSet for the registry or PostgreSQL'),
    reason: z
      .string()
      .trim()
      .min(10, 'say in at least 10 characters why the deployment is isolated (it goes to the audit log)')
      .max(500),
    requestedBy: z.string().min(1).max(200).default('unknown'),
    allow: z
      .array(IsolationAllowInput)
      .max(20, 'at most 20 allowed peers: an isolation lets almost nothing through')
      .default([]),
  })
  .strict();

export type IsolationInput = z.input<typeof IsolationInput>;
export type IsolationPlan = z.output<typeof IsolationInput>;

/** `deployments/<name>` or `statefulsets/<name>`: how the API, kubectl and every message name the workload. */
export const workloadPath = (plan: Pick<IsolationPlan, 'kind' | 'deployment'>) =>
  `${plan.kind === 'StatefulSet' ? 'statefulsets' : 'deployments'}/${plan.deployment}`;

export function parseIsolationInput(raw: unknown): { ok: true; plan: IsolationPlan } | { ok: false; message: string } {
  const parsed = IsolationInput.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, plan: parsed.data };
  return {
    ok: false,
    message: `invalid isolation input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
  };
}
