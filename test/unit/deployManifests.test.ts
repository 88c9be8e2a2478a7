import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../scripts/stack/config.js';
import { siblings } from '../../activities/secrets/store.js';
import { DEFAULT_CA_SECRET, DEFAULT_CERT_SECRETS } from '../../contracts/input/certificate.js';
import { defaultSecrets } from '../../workflows/rotation/index.js';
import { generated } from '../../scripts/deploy-generate.js';

/**
 * deploy/rbac.yaml and deploy/admission-policy.yaml name the Secrets rekey writes (RBAC by
 * resourceNames, the policy by the names it lets the worker create). A secret rekey rotates that
 * either list misses fails in production only (Forbidden), never on the stack's admin kubeconfig:
 * the lists are checked here against the secrets the code rotates.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are free-form YAML, read by field */
const docs = (file: string) =>
  parseAllDocuments(fs.readFileSync(path.join(repoRoot, 'deploy', file), 'utf8')).map(
    (d) => d.toJS() as Record<string, any>,
  );
const rotated = [...Object.values(defaultSecrets), ...Object.values(DEFAULT_CERT_SECRETS), DEFAULT_CA_SECRET].flatMap(
  (name) => {
    const s = siblings(name);
    return [s.current, s.pending, s.backup];
  },
);

describe('deploy/ names every secret rekey rotates', () => {
  it('the Role may get, patch and delete each one and its -pending/-backup, and only those with the admin secret', () => {
    const role = docs('rbac.yaml').find((d) => d.kind === 'Role')!;
    const secretRules = role.rules.filter((r: { resources: string[] }) => r.resources.includes('secrets'));
    const writable = secretRules.find((r: { verbs: string[] }) => r.verbs.includes('patch'));
    expect(writable.verbs.sort()).toEqual(['delete', 'get', 'patch']);
    expect([...writable.resourceNames].sort()).toEqual([...rotated].sort());
  });

  it('the admission policy lets the worker create exactly those names', () => {
    const policy = docs('admission-policy.yaml').find((d) => d.kind === 'ValidatingAdmissionPolicy')!;
    const list = policy.spec.variables.find((v: { name: string }) => v.name === 'secretNames').expression as string;
    const names = [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...rotated].sort());
    const binding = docs('admission-policy.yaml').find((d) => d.kind === 'ValidatingAdmissionPolicyBinding')!;
    expect(binding.spec).toMatchObject({ policyName: policy.metadata.name, validationActions: ['Deny'] });
  });
});

/** A pod as a NetworkPolicy sees it: its labels and its namespace's. */
interface Peer {
  labels: Record<string, string>;
  namespace: Record<string, string>;
}
type Selector = { matchLabels?: Record<string, string> } | undefined;
const selects = (sel: Selector, labels: Record<string, string>) =>
  Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
const pipelineNs = { 'kubernetes.io/metadata.name': 'data-ingestion' };

/** Whether deploy/network-policies.yaml lets `from` reach `to` on `port` (ingress, the only type it restricts). */
function allowed(from: Peer, to: Peer, port: number): boolean {
  const policies = docs('network-policies.yaml').filter(
    (p) => p.kind === 'NetworkPolicy' && selects(p.spec.podSelector, to.labels),
  );
  return policies.some((p) =>
    (p.spec.ingress ?? []).some((rule: any) => {
      const peerOk = (rule.from ?? []).some((f: { podSelector?: Selector; namespaceSelector?: Selector }) =>
        f.namespaceSelector
          ? selects(f.namespaceSelector, from.namespace) && (!f.podSelector || selects(f.podSelector, from.labels))
          : Boolean(f.podSelector) && selects(f.podSelector, from.labels) && from.namespace === pipelineNs,
      );
      return peerOk && (rule.ports ?? []).some((p: { port: number }) => p.port === port);
    }),
  );
}

describe('deploy/network-policies.yaml: default deny, and the pipeline still flows', () => {
  const pod = (labels: Record<string, string>): Peer => ({ labels, namespace: pipelineNs });
  const connect = pod({ app: 'kafka-connect', component: 'worker' });
  const registry = pod({ app: 'schema-registry' });
  const rekey = pod({ 'app.kubernetes.io/name': 'rekey', 'app.kubernetes.io/component': 'worker' });
  const postgres = pod({ app: 'postgresql' });
  const kafka = pod({ app: 'kafka' });
  const prometheus: Peer = {
    labels: { app: 'prometheus' },
    namespace: { 'kubernetes.io/metadata.name': 'monitoring' },
  };
  const stranger: Peer = { labels: { app: 'web' }, namespace: { 'kubernetes.io/metadata.name': 'frontend' } };

  it('lets each flow of the pipeline and its scrapes through', () => {
    const flows: Array<[string, Peer, Peer, number]> = [
      ['Debezium → PostgreSQL', connect, postgres, 5432],
      ['rekey → PostgreSQL (users)', rekey, postgres, 5432],
      ['Connect → Kafka', connect, kafka, 9092],
      ['registry → Kafka (storage)', registry, kafka, 9092],
      ['rekey → Kafka TLS listener', rekey, kafka, 9093],
      ['converter → registry (Confluent port)', connect, registry, 8081],
      ['converter → registry (Apicurio port)', connect, registry, 8080],
      ['rekey → Connect REST', rekey, connect, 8083],
      ['Prometheus → rekey metrics', prometheus, rekey, 9464],
      ['Prometheus → Connect JMX exporter', prometheus, connect, 9404],
    ];
    expect(flows.filter(([, from, to, port]) => !allowed(from, to, port)).map(([name]) => name)).toEqual([]);
  });

  it('and denies the rest (the test has teeth)', () => {
    expect(allowed(stranger, postgres, 5432)).toBe(false);
    expect(allowed(stranger, connect, 8083)).toBe(false);
    expect(allowed(prometheus, postgres, 5432)).toBe(false);
    expect(allowed(registry, postgres, 5432)).toBe(false);
    expect(docs('network-policies.yaml').find((p) => p.metadata?.name === 'default-deny-ingress')?.spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress'],
    });
  });
});

describe('generated parts of deploy/ are current (npm run deploy:generate)', () => {
  it('the Role, the admission policy and the PrometheusRule are what the generator writes from the code and rules.yaml', () => {
    expect(
      generated
        .filter(({ file, render }) => !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== render())
        .map(({ file }) => path.relative(repoRoot, file)),
    ).toEqual([]);
  });

  it('the PrometheusRule carries every alert of rules.yaml, unchanged', () => {
    const rule = docs('components/prometheus-operator/prometheusrule.yaml')[0]!;
    const source = docs('prometheus/rules.yaml')[0]!;
    expect(rule).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(rule.spec.groups).toEqual(source.groups);
  });

  it('the PodMonitors select pods deploy/ runs, on a port they expose, under the job names the rules read', () => {
    const monitors = docs('components/prometheus-operator/podmonitors.yaml');
    const worker = docs('worker.yaml').find((d) => d.kind === 'Deployment' && d.metadata.name === 'rekey-worker')!;
    const rekeyMonitor = monitors.find((m) => m.metadata.name === 'rekey-worker')!;
    expect(selects(rekeyMonitor.spec.selector, worker.spec.template.metadata.labels)).toBe(true);
    const ports = worker.spec.template.spec.containers.flatMap((c: { ports?: Array<{ name: string }> }) =>
      (c.ports ?? []).map((p) => p.name),
    );
    expect(ports).toContain(rekeyMonitor.spec.podMetricsEndpoints[0].port);
    const jobs = monitors
      .map(
        (m) =>
          m.spec.podMetricsEndpoints[0].relabelings.find((r: { targetLabel: string }) => r.targetLabel === 'job')
            .replacement,
      )
      .sort();
    // the jobs docs/alerts.md tells Prometheus to scrape (the rules select rekey's by job="rekey-worker")
    const alerts = fs.readFileSync(path.join(repoRoot, 'docs', 'alerts.md'), 'utf8');
    for (const job of jobs) expect(alerts).toContain(`| \`${job}\` |`);
    expect(fs.readFileSync(path.join(repoRoot, 'deploy', 'prometheus', 'rules.yaml'), 'utf8')).toContain(
      'job="rekey-worker"',
    );
    expect(jobs).toEqual(['kafka-connect', 'rekey-worker']);
  });
});

it('the image build copies every folder the worker build compiles (a folder left out fails `docker build`)', () => {
  const { include } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
    include: string[];
  };
  const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  expect(include).toContain('contracts');
  for (const dir of include) expect(dockerfile, dir).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
});
