import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'yaml';
import { kubeconfigPath, kubeNamespace } from '../../stack/kube.js';
import { repoRoot, type StackConfig } from '../../stack/config.js';
import { proxyPort } from '../../stack/faultProxy.js';

/**
 * The worker's view of the stack through the fault proxies: PostgreSQL, Connect's REST API,
 * the registry, the AWS emulator and the Kubernetes API are reached on the proxy ports.
 * (The stand-ins that restart local processes, and the pipeline itself, keep their direct paths.)
 */
export function proxiedWorkerEnv(cfg: StackConfig, store: 'file' | 'kubernetes'): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    REKEY_PG_PORT: String(proxyPort(cfg, 'postgres')),
    REKEY_CONNECT_URL: `http://127.0.0.1:${proxyPort(cfg, 'connect')}`,
    REKEY_REGISTRY_URL: `http://127.0.0.1:${proxyPort(cfg, 'registry')}/apis/ccompat/v7`,
    REKEY_AWS_ENDPOINT: `http://127.0.0.1:${proxyPort(cfg, 'moto')}`,
    REKEY_K8S_NAMESPACE: kubeNamespace,
    KUBECONFIG: proxiedKubeconfig(cfg),
  };
  if (store === 'kubernetes') env.REKEY_SECRET_STORE = 'kubernetes';
  return env;
}

/** The stack's kubeconfig with the API server's address on its proxy (same certificate: it is issued for 127.0.0.1). */
function proxiedKubeconfig(cfg: StackConfig): string {
  const doc = yaml.parse(fs.readFileSync(kubeconfigPath(cfg), 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of doc.clusters)
    c.cluster.server = c.cluster.server.replace(/:\d+$/, `:${proxyPort(cfg, 'kubeApiserver')}`);
  const file = path.join(cfg.dataDir, 'kubeconfig-fault-proxy');
  fs.writeFileSync(file, yaml.stringify(doc), { mode: 0o600 });
  return file;
}

/** Workers of this process: killed with it, so an interrupted run leaves none behind. */
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/**
 * The development worker (`scripts/devWorker.ts`) as its own process, supervised as a
 * Deployment would: if it exits by itself (not killed by us) it is started again.
 */
export class SupervisedWorker {
  private child?: ChildProcess;
  starts = 0;
  unplannedExits = 0;
  private stopping = false;

  constructor(
    readonly taskQueue: string,
    readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  start(): void {
    this.stopping = false;
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/devWorker.ts')], {
      cwd: repoRoot,
      env: { ...process.env, ...this.env, REKEY_TASK_QUEUE: this.taskQueue, REKEY_TEST_HOOKS: 'true' },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.child = child;
    this.starts++;
    children.add(child);
    child.once('exit', () => {
      children.delete(child);
      if (this.stopping || this.child !== child) return;
      this.unplannedExits++;
      setTimeout(() => !this.stopping && this.child === child && this.start(), 1000);
    });
  }

  /** SIGKILL: activities cut off mid-flight, nothing reported to the server. */
  async kill(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    this.start();
  }
}
