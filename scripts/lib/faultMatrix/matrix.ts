import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { FileSecretStore } from '../../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../../activities/secrets/kubernetesStore.js';
import { createClient } from '../../../workers/client.js';
import type { StackConfig } from '../../stack/config.js';
import { healAll, startFaultProxies, stopFaultProxies, type FaultProxies } from '../../stack/faultProxy.js';
import { adminKubeConfig, kubeNamespace } from '../../stack/kube.js';
import { usePipelineStore } from '../../stack/pipelineStore.js';
import { embeddedWorkerConfig } from '../session.js';
import type { MatrixCell } from './cells.js';
import { runKillSweep } from './killSweep.js';
import type { ProcedureName } from './procedures.js';
import { runCell, type CellResult, type Harness } from './run.js';
import { proxiedWorkerEnv, SupervisedWorker } from './workerProcess.js';
import { kafkaBootstrap } from '../../stack/kafka.js';

type StoreKind = 'file' | 'kubernetes';

/** Ends a rotation a cell left running: cancel (it rolls back), terminate only if that does not end it in 3 min. */
async function stopLeftover(handle: WorkflowHandle): Promise<void> {
  await handle.cancel().catch(() => undefined);
  const ended = await Promise.race([
    handle.result().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), 180_000)),
  ]);
  if (!ended) await handle.terminate('fault matrix: cell ended with the rotation running').catch(() => undefined);
}

/**
 * The fault matrix's world: the proxies, a client, and one worker per secret store, each a
 * separate process whose configuration points at the proxies.
 */
export class FaultMatrix {
  private workers = new Map<StoreKind, SupervisedWorker>();
  private constructor(
    readonly cfg: StackConfig,
    readonly proxies: FaultProxies,
    private readonly clientConn: Awaited<ReturnType<typeof createClient>>,
    readonly brokers: string[],
    readonly taskQueue: string,
  ) {}

  static async open(): Promise<FaultMatrix> {
    const { stack, config } = embeddedWorkerConfig();
    const proxies = await startFaultProxies(stack);
    const client = await createClient(config);
    return new FaultMatrix(
      stack,
      proxies,
      client,
      [kafkaBootstrap(stack)],
      `rekey-faults-${randomBytes(3).toString('hex')}`,
    );
  }

  workerEnv(store: StoreKind) {
    return proxiedWorkerEnv(this.cfg, store);
  }

  private worker(store: StoreKind): SupervisedWorker {
    let w = this.workers.get(store);
    if (!w) {
      const queue = `${this.taskQueue}-${store}`;
      w = new SupervisedWorker(queue, path.join(this.cfg.logDir, `${queue}.log`), this.workerEnv(store));
      w.start();
      this.workers.set(store, w);
    }
    return w;
  }

  private async harness(store: StoreKind): Promise<Harness> {
    await usePipelineStore(this.cfg, store);
    const secretStore =
      store === 'kubernetes'
        ? new KubernetesSecretStore(adminKubeConfig(this.cfg), kubeNamespace)
        : new FileSecretStore(this.cfg.secretsDir);
    const worker = this.worker(store);
    return {
      cfg: this.cfg,
      client: this.clientConn.client,
      proxies: this.proxies,
      worker,
      store: secretStore,
      brokers: this.brokers,
      taskQueue: worker.taskQueue,
      stopLeftover,
    };
  }

  /** A worker of its own for a cell that strikes at an activity: it pauses that activity until the cell releases it. */
  private pausingWorker(store: StoreKind, activity: string) {
    const holdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-hold-'));
    const taskQueue = `${this.taskQueue}-${store}-hold-${randomBytes(2).toString('hex')}`;
    const env = {
      ...this.workerEnv(store),
      REKEY_FAULT_HOLD: activity,
      REKEY_FAULT_HOLD_WHEN: 'before',
      REKEY_FAULT_HOLD_RELEASE: 'true',
      REKEY_FAULT_HOLD_DIR: holdDir,
    };
    const worker = new SupervisedWorker(taskQueue, path.join(this.cfg.logDir, `${taskQueue}.log`), env);
    worker.start();
    return { worker, taskQueue, holdDir };
  }

  async cell(c: MatrixCell): Promise<CellResult> {
    const h = await this.harness(c.store ?? 'file');
    const paused = c.hold ? this.pausingWorker(c.store ?? 'file', c.hold) : undefined;
    try {
      const r = await runCell(paused ? { ...h, ...paused } : h, c);
      const extra = c.check ? await c.check() : [];
      return extra.length ? { ...r, ok: false, problems: [...r.problems, ...extra] } : r;
    } catch (e) {
      return {
        procedure: c.procedure,
        fault: c.fault,
        step: c.step,
        outcome: 'failed',
        ok: false,
        seconds: 0,
        lost: 0,
        problems: [`cell crashed: ${(e as Error).message}`],
      };
    } finally {
      healAll(this.proxies);
      if (paused) {
        await paused.worker.kill();
        fs.rmSync(paused.holdDir, { recursive: true, force: true });
      }
    }
  }

  async killSweep(
    procedure: ProcedureName,
    opts: { hold?: string[]; input?: Record<string, unknown> } = {},
  ): Promise<CellResult[]> {
    const h = await this.harness('file');
    try {
      return await runKillSweep(h, procedure, { ...opts, workerEnv: this.workerEnv('file') });
    } finally {
      healAll(this.proxies);
    }
  }

  async close(): Promise<void> {
    for (const w of this.workers.values()) await w.kill();
    await stopFaultProxies(this.proxies);
    await this.clientConn.connection.close();
    await usePipelineStore(this.cfg, 'file');
  }
}
