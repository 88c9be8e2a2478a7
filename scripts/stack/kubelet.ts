/**
 * The embedded stack's kubelet for Kafka Connect: the one local Connect process plays the
 * container of whichever `kafka-connect` pod is bound to node `rekey-local` (a Node kwok
 * does not manage). Like a kubelet it
 * - starts the "container" of a new pod: issues the pod's ServiceAccount token (the
 *   kubeconfig Strimzi's provider reads), projects its Secret volumes, restarts the local
 *   Connect process, and reports the pod Ready only once Connect's REST API answers;
 * - confirms the deletion of a terminating pod (and stops the process if it was its);
 * - reports the pod NotReady while the process is down (it does not restart it: on the file
 *   store the stack's stand-in owns restarts);
 * - re-projects Secret volumes on its own clock (REKEY_KUBELET_SYNC_MS, default 30 s), so a
 *   `${dir:…}` reader sees a Secret change late, as on a real node;
 * - keeps its Node Ready with a status heartbeat.
 * So production code only talks to the API: a rollout restart of the Deployment is what
 * restarts Connect here. Run detached by the stack (`kubelet` service); never imported by
 * production code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { loadStackConfig, repoRoot, type StackConfig } from './config.js';
import { connect, connectKubeconfigPath, projectedVolumesDir } from './connect.js';
import { adminKubeConfig, kubeNamespace } from './kube.js';
import { isAlive, readPid, sleep, spawnDetached, stopPid, waitFor } from './proc.js';
import { logPath, type Service } from './service.js';

export const kubeletNode = 'rekey-local';
export const kubeletStateFile = (cfg: StackConfig) => path.join(cfg.runDir, 'kubelet.state.json');
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface KubeletState {
  /** UID of the pod whose container the local Connect process is */
  podUid?: string;
  podName?: string;
  heartbeatAt: string;
  lastProjectionAt?: string;
}

const log = (msg: string) => console.log(`${new Date().toISOString()} ${msg}`);

export function readKubeletState(cfg: StackConfig): KubeletState | undefined {
  try {
    return JSON.parse(fs.readFileSync(kubeletStateFile(cfg), 'utf8')) as KubeletState;
  } catch {
    return undefined;
  }
}

export class EmbeddedKubelet {
  private readonly core: CoreV1Api;
  private state: KubeletState;

  constructor(
    private readonly cfg: StackConfig,
    private readonly kc: KubeConfig,
    private readonly syncMs: number,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.state = { ...readKubeletState(cfg), heartbeatAt: new Date().toISOString() };
  }

  private save() {
    this.state.heartbeatAt = new Date().toISOString();
    fs.writeFileSync(kubeletStateFile(this.cfg), JSON.stringify(this.state));
  }

  async heartbeatNode(): Promise<void> {
    const now = new Date().toISOString();
    const body = {
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'embedded kubelet for Kafka Connect',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    };
    await this.core.patchNodeStatus({ name: kubeletNode, body }, merge);
  }

  private async myPods(): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: kubeNamespace,
      fieldSelector: `spec.nodeName=${kubeletNode}`,
    });
    return list.items ?? [];
  }

  private async setPodStatus(pod: V1Pod, ready: boolean): Promise<void> {
    const now = new Date().toISOString();
    const cond = (type: string) => ({ type, status: ready ? 'True' : 'False', lastTransitionTime: now });
    const body = {
      status: {
        phase: 'Running',
        podIP: '127.0.0.1',
        podIPs: [{ ip: '127.0.0.1' }],
        hostIP: '127.0.0.1',
        startTime: pod.status?.startTime ?? now,
        conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')].map((c, i) =>
          i < 2 ? { ...c, status: 'True' } : c,
        ),
        containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready,
          restartCount: 0,
          started: ready,
          state: { running: { startedAt: now } },
        })),
      },
    };
    await this.core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: kubeNamespace, body }, merge);
  }

  /** The token a pod's ServiceAccount would have mounted, as a kubeconfig for fabric8. */
  private async writeServiceAccountKubeconfig(pod: V1Pod): Promise<void> {
    const sa = pod.spec?.serviceAccountName ?? 'default';
    const token = await this.core.createNamespacedServiceAccountToken({
      name: sa,
      namespace: kubeNamespace,
      body: { spec: { audiences: [], expirationSeconds: 7 * 24 * 3600 } },
    });
    const cluster = this.kc.getCurrentCluster()!;
    const caData = cluster.caData ?? (cluster.caFile ? fs.readFileSync(cluster.caFile).toString('base64') : undefined);
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: embedded\n  cluster:\n    server: ${cluster.server}\n${caData ? `    certificate-authority-data: ${caData}\n` : ''}`.trimEnd(),
      'users:',
      `- name: ${sa}\n  user:\n    token: ${token.status!.token}`,
      'contexts:',
      `- name: pod\n  context:\n    cluster: embedded\n    user: ${sa}\n    namespace: ${kubeNamespace}`,
      'current-context: pod',
      '',
    ].join('\n');
    const file = connectKubeconfigPath(this.cfg);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, yaml, { mode: 0o600 });
  }

  /** Writes every Secret volume of the pod into the projected-volumes folder (files per key). */
  async projectSecrets(pod: V1Pod): Promise<void> {
    const store = new FileSecretStore(projectedVolumesDir(this.cfg));
    for (const v of pod.spec?.volumes ?? []) {
      const name = v.secret?.secretName;
      if (!name) continue;
      const secret = await this.core.readNamespacedSecret({ name, namespace: kubeNamespace }).catch(() => undefined);
      if (!secret) continue;
      const data = Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, b64]) => [k, Buffer.from(b64, 'base64')]),
      );
      const current = await store.read(name).catch(() => undefined);
      if (current?.info.annotations.resourceVersion === secret.metadata?.resourceVersion) continue;
      await store.write(name, data, {
        annotations: { projectedFrom: `${kubeNamespace}/${name}`, resourceVersion: secret.metadata!.resourceVersion! },
      });
      log(`projected secrets/${name} at resourceVersion ${secret.metadata?.resourceVersion}`);
    }
    this.state.lastProjectionAt = new Date().toISOString();
  }

  /** The pod's container starts: a fresh Connect process with the pod's token and volumes. */
  private async startContainer(pod: V1Pod, previous: V1Pod | undefined): Promise<void> {
    log(
      `starting pod ${pod.metadata!.name} (uid ${pod.metadata!.uid})${previous ? `; replacing ${previous.metadata!.name}` : ''}`,
    );
    if (previous) await this.setPodStatus(previous, false).catch(() => undefined);
    await this.writeServiceAccountKubeconfig(pod);
    await this.projectSecrets(pod);
    await connect.stop(this.cfg);
    await connect.start(this.cfg);
    this.state.podUid = pod.metadata!.uid;
    this.state.podName = pod.metadata!.name;
    this.save();
    await this.setPodStatus(pod, true);
    log(`pod ${pod.metadata!.name} Ready`);
  }

  /** One pass: confirm deletions, start the newest pod's container, keep its readiness honest. */
  async reconcile(): Promise<void> {
    const pods = await this.myPods();
    for (const p of pods.filter((x) => x.metadata?.deletionTimestamp)) {
      log(`pod ${p.metadata!.name} terminated`);
      await this.core
        .deleteNamespacedPod({ name: p.metadata!.name!, namespace: kubeNamespace, gracePeriodSeconds: 0 })
        .catch(() => undefined);
    }
    // by time, not by text: the client hands Dates, whose text starts with the weekday ("Mon …" < "Sun …")
    const created = (p: V1Pod) => new Date(p.metadata!.creationTimestamp ?? 0).getTime();
    const live = pods.filter((x) => !x.metadata?.deletionTimestamp).sort((a, b) => created(a) - created(b));
    const newest = live.at(-1);
    if (!newest) {
      // scaled to zero: the container of the last pod stops with it
      if (this.state.podUid) {
        log(`no pod left: stopping Kafka Connect`);
        await connect.stop(this.cfg);
        this.state.podUid = undefined;
      }
      this.save();
      return;
    }
    const current = live.find((p) => p.metadata!.uid === this.state.podUid);
    // Only a new pod starts the container. A Connect process that is down is reported NotReady,
    // not restarted: on the file store the stack's stand-in restarts it (restart-worker, the
    // crash test), and two starters would fight over one port.
    if (newest.metadata!.uid !== this.state.podUid) {
      await this.startContainer(newest, current && current !== newest ? current : undefined);
      return;
    }
    const ready =
      isAlive(readPid(this.cfg.runDir, 'kafka-connect')) && (await connect.healthy(this.cfg).catch(() => false));
    const reported = (newest.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready !== reported) await this.setPodStatus(newest, ready);
    const last = this.state.lastProjectionAt ? Date.parse(this.state.lastProjectionAt) : 0;
    if (Date.now() - last >= this.syncMs) await this.projectSecrets(newest);
    this.save();
  }
}

async function main() {
  const cfg = loadStackConfig();
  const syncMs = Number(process.env.REKEY_KUBELET_SYNC_MS ?? 30_000);
  const kubelet = new EmbeddedKubelet(cfg, adminKubeConfig(cfg), syncMs);
  log(`embedded kubelet for node ${kubeletNode}: Secret volumes re-projected every ${syncMs} ms`);
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => (stopping = true));
  let lastBeat = 0;
  while (!stopping) {
    try {
      if (Date.now() - lastBeat > 10_000) {
        await kubelet.heartbeatNode();
        lastBeat = Date.now();
      }
      await kubelet.reconcile();
    } catch (err) {
      log(`reconcile failed: ${(err as Error).message}`);
    }
    await sleep(500);
  }
  log('stopped');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) void main();

/** The stack service that runs the embedded kubelet detached; Ready once the Connect pod is. */
export const kubelet: Service = {
  name: 'kubelet',
  url: () => `node/${kubeletNode}`,
  ports: () => [],
  async install() {},
  async start(cfg) {
    const log = logPath(cfg, 'kubelet');
    const pid = spawnDetached({
      name: 'kubelet',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(repoRoot, 'scripts/stack/kubelet.ts')],
      cwd: repoRoot,
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('kubelet', () => kubelet.healthy(cfg), {
      timeoutMs: 180_000,
      logPath: log,
      pid,
      what: 'running the kafka-connect pod',
    });
  },
  async healthy(cfg) {
    const state = readKubeletState(cfg);
    return (
      isAlive(readPid(cfg.runDir, 'kubelet')) && !!state?.podUid && Date.now() - Date.parse(state.heartbeatAt) < 30_000
    );
  },
  async stop(cfg) {
    await stopPid(cfg.runDir, 'kubelet', 10_000);
  },
};
