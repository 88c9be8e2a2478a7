import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { pipeline, repoRoot, type StackConfig } from './config.js';
import { execFileAsync, runInstaller, StackError, waitFor } from './proc.js';
import { installScript, logPath, type Service } from './service.js';
import { loadKubernetesClient } from '../../activities/kubernetesClient.js';

// the product's Kubernetes modules use the client rekey loads on demand: the stack always talks to its cluster
await loadKubernetesClient();

export const kubeVersions = { k8s: 'v1.36.3', etcd: 'v3.6.16', kwok: 'v0.8.0' };
export const kubeBin = (cfg: StackConfig, name: string) =>
  path.join(cfg.cache, `kube-${kubeVersions.k8s}-etcd-${kubeVersions.etcd}-kwok-${kubeVersions.kwok}`, 'bin', name);
export const kubeconfigPath = (cfg: StackConfig) => path.join(cfg.dataDir, 'kubeconfig');
const workdir = (cfg: StackConfig) => path.join(cfg.dataDir, 'kwok');
const CLUSTER = 'rekey';
export const kubeNamespace = 'data-ingestion';

async function kwokctl(cfg: StackConfig, args: string[]) {
  const env = {
    ...process.env,
    KWOK_WORKDIR: workdir(cfg),
    PATH: `${path.dirname(kubeBin(cfg, 'kwokctl'))}:${process.env.PATH}`,
  };
  try {
    return await execFileAsync(kubeBin(cfg, 'kwokctl'), args, { env, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new StackError(
      'kubernetes',
      `kwokctl ${args[0]} ${args[1] ?? ''} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n')}`,
      logPath(cfg, 'kubernetes'),
    );
  }
}

export const kubectl = (cfg: StackConfig, args: string[]) =>
  execFileAsync(kubeBin(cfg, 'kubectl'), ['--kubeconfig', kubeconfigPath(cfg), ...args], { maxBuffer: 16 << 20 });

export function adminKubeConfig(cfg: StackConfig): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath(cfg));
  return kc;
}

/** Every component listens on loopback only (kwokctl's defaults bind all interfaces). */
function kwokConfig(cfg: StackConfig): string {
  const p = cfg.ports;
  const file = path.join(cfg.dataDir, 'kwokctl.yaml');
  const patch = (name: string, args: Record<string, string>) =>
    `- name: ${name}\n  extraArgs:\n${Object.entries(args)
      .map(([k, v]) => `  - key: ${k}\n    value: ${JSON.stringify(v)}`)
      .join('\n')}`;
  fs.writeFileSync(
    file,
    [
      'kind: KwokctlConfiguration',
      'apiVersion: config.kwok.x-k8s.io/v1alpha1',
      'componentsPatches:',
      patch('kube-apiserver', { 'bind-address': '127.0.0.1' }),
      patch('kube-controller-manager', { 'bind-address': '127.0.0.1' }),
      patch('kube-scheduler', { 'bind-address': '127.0.0.1' }),
      patch('etcd', {
        'listen-client-urls': `http://127.0.0.1:${p.etcd}`,
        'listen-peer-urls': `http://127.0.0.1:${p.etcd + 1}`,
      }),
      // only nodes annotated kwok.x-k8s.io/node=fake: node rekey-local belongs to the embedded kubelet
      patch('kwok-controller', {
        'server-address': `127.0.0.1:${p.etcd + 2}`,
        'manage-all-nodes': 'false',
        'manage-nodes-with-annotation-selector': 'kwok.x-k8s.io/node=fake',
      }),
      '',
    ].join('\n'),
  );
  return file;
}

/** A real Kubernetes control plane (etcd, kube-apiserver with RBAC, controller-manager, scheduler) with kwok-simulated nodes. */
/**
 * A kubeconfig that authenticates as a ServiceAccount of the pipeline's namespace (a bound token
 * from the TokenRequest API): what a worker in the cluster is, unlike the admin kubeconfig.
 * Written 0600 into the stack's data folder; `minutes` bounds the token.
 */
export async function serviceAccountKubeconfig(cfg: StackConfig, account: string, minutes = 60): Promise<string> {
  const { stdout } = await kubectl(cfg, ['-n', kubeNamespace, 'create', 'token', account, '--duration', `${minutes}m`]);
  const admin = adminKubeConfig(cfg);
  const cluster = admin.getCurrentCluster()!;
  const sa = new KubeConfig();
  sa.loadFromOptions({
    clusters: [cluster],
    users: [{ name: account, token: stdout.trim() }],
    contexts: [{ name: account, cluster: cluster.name, user: account, namespace: kubeNamespace }],
    currentContext: account,
  });
  const file = path.join(cfg.dataDir, `${account}.kubeconfig`);
  fs.writeFileSync(file, sa.exportConfig(), { mode: 0o600 });
  return file;
}

export const kube: Service = {
  name: 'kubernetes',
  url: (cfg) => `https://127.0.0.1:${cfg.ports.kubeApiserver}`,
  ports: (cfg) => [cfg.ports.kubeApiserver, cfg.ports.etcd, cfg.ports.etcd + 1, cfg.ports.etcd + 2],
  extra: (cfg) => ({ kubeconfig: kubeconfigPath(cfg), namespace: kubeNamespace }),

  async install(cfg) {
    await runInstaller('kubernetes', installScript('install-kube.sh'), { REKEY_CACHE: cfg.cache });
  },

  async start(cfg) {
    fs.mkdirSync(workdir(cfg), { recursive: true });
    const log = logPath(cfg, 'kubernetes');
    const exists = fs.existsSync(path.join(workdir(cfg), 'clusters', CLUSTER));
    const out = exists
      ? await kwokctl(cfg, ['start', 'cluster', '--name', CLUSTER, '--wait', '120s'])
      : await kwokctl(cfg, [
          'create',
          'cluster',
          '--name',
          CLUSTER,
          '--runtime',
          'binary',
          '--config',
          kwokConfig(cfg),
          '--kube-apiserver-port',
          String(cfg.ports.kubeApiserver),
          '--etcd-port',
          String(cfg.ports.etcd),
          '--etcd-binary',
          kubeBin(cfg, 'etcd'),
          '--kube-apiserver-binary',
          kubeBin(cfg, 'kube-apiserver'),
          '--kube-controller-manager-binary',
          kubeBin(cfg, 'kube-controller-manager'),
          '--kube-scheduler-binary',
          kubeBin(cfg, 'kube-scheduler'),
          '--kwok-controller-binary',
          kubeBin(cfg, 'kwok'),
          '--kubeconfig',
          kubeconfigPath(cfg),
          '--wait',
          '120s',
        ]);
    fs.appendFileSync(log, `${out.stdout}${out.stderr}`);
    await waitFor('kubernetes', () => kube.healthy(cfg), { timeoutMs: 120_000, logPath: log });
  },

  async healthy(cfg) {
    if (!fs.existsSync(kubeconfigPath(cfg))) return false;
    const core = adminKubeConfig(cfg).makeApiClient(CoreV1Api);
    await core.listNamespace({ limit: 1 });
    return true;
  },

  /** The runbook's namespace, workloads and Secrets; Secret values come from the file store so both stores agree. */
  async seed(cfg) {
    await kubectl(cfg, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      path.join(repoRoot, 'deploy/stack/pipeline.yaml'),
    ]);
    await kubectl(cfg, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      path.join(repoRoot, 'deploy/rbac.yaml'),
      '-f',
      path.join(repoRoot, 'deploy/admission-policy.yaml'),
    ]);
    await kubectl(cfg, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      path.join(repoRoot, 'deploy/kafka-connect.yaml'),
    ]);
    await kubectl(cfg, [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      path.join(repoRoot, 'deploy/network-policies.yaml'),
    ]);
    const files = new FileSecretStore(cfg.secretsDir);
    const secrets = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
    for (const name of [pipeline.cdcSecret, pipeline.registrySecret, pipeline.awsSecret, pipeline.adminSecret]) {
      const value = await files.read(name);
      if (value && !(await secrets.read(name))) await secrets.write(name, value.data, { expectedVersion: null });
    }
    await waitFor(
      'kubernetes',
      async () => {
        // kwok's pods; the Connect pod on rekey-local is started by the kubelet service next
        const { stdout } = await kubectl(cfg, [
          '-n',
          kubeNamespace,
          'get',
          'pods',
          '--field-selector',
          'spec.nodeName!=rekey-local',
          '-o',
          'jsonpath={range .items[*]}{.status.phase}{" "}{end}',
        ]);
        const phases = stdout.trim().split(/\s+/).filter(Boolean);
        return phases.length >= 1 && phases.every((p) => p === 'Running');
      },
      { timeoutMs: 90_000, logPath: logPath(cfg, 'kubernetes'), what: 'running the seeded workloads' },
    );
  },

  async stop(cfg) {
    if (!fs.existsSync(path.join(workdir(cfg), 'clusters', CLUSTER))) return;
    await kwokctl(cfg, ['stop', 'cluster', '--name', CLUSTER]).catch(() => undefined);
  },
};
