import fs from 'node:fs';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { Payload } from '@temporalio/common';
import type { SecretStore } from '../../../activities/secrets/store.js';
import { AesGcmCodec } from '../../../workers/codec.js';
import { progressQuery, type RotationProgress, type RotationResult } from '../../../workflows/rotation/index.js';
import { pipeline, type StackConfig } from '../../stack/config.js';
import type { FaultProxies } from '../../stack/faultProxy.js';
import pg from 'pg';
import { FileSecretStore } from '../../../activities/secrets/fileStore.js';
import { summarize, underLoad } from '../load.js';
import { heldActivities, releaseHeld } from '../../stack/faultHold.js';
import { leftovers, procedures, secretValues, type ProcedureName } from './procedures.js';
import type { SupervisedWorker } from './workerProcess.js';

/** What a fault needs to act on the world. */
export interface FaultContext {
  cfg: StackConfig;
  proxies: FaultProxies;
  worker: SupervisedWorker;
  store: SecretStore;
  handle: WorkflowHandle;
}

export type Outcome = 'completed' | 'rolled-back' | 'needs-attention' | 'failed' | 'stuck' | 'not-triggered';

export interface CellResult {
  procedure: ProcedureName;
  fault: string;
  step: string;
  outcome: Outcome;
  /** End state consistent, nothing left over, no secret in history, 0 lost. */
  ok: boolean;
  seconds: number;
  lost: number;
  problems: string[];
  detail?: string;
}

export interface Harness {
  cfg: StackConfig;
  client: Client;
  proxies: FaultProxies;
  worker: SupervisedWorker;
  store: SecretStore;
  brokers: string[];
  taskQueue: string;
  /** Ends a rotation the cell could not finish, so the next cell starts clean. */
  stopLeftover(handle: WorkflowHandle): Promise<void>;
  /** Where the worker drops its hold markers (a cell with `hold` runs on a worker started with them). */
  holdDir?: string;
}

/**
 * The insert load's connection: a pool of one, so the load goes on after a PostgreSQL restart
 * (a plain client dies with its backend, and an unhandled 'error' would end the process).
 */
async function loadConnection(cfg: StackConfig): Promise<pg.Pool> {
  const admin = (await new FileSecretStore(cfg.secretsDir).read(pipeline.adminSecret))!.data;
  const pool = new pg.Pool({
    host: '127.0.0.1',
    port: cfg.ports.postgres,
    user: admin.username,
    password: admin.password,
    database: pipeline.database,
    max: 1,
    connectionTimeoutMillis: 3000,
  });
  pool.on('error', () => undefined);
  return pool;
}

/**
 * `inject` starts when `step` is seen running (or the phase named `phase:<name>` is reached, or
 * at once for `start`) and resolves once healed.
 */
export interface CellSpec {
  procedure: ProcedureName;
  fault: string;
  step: string;
  input?: Record<string, unknown>;
  inject(cx: FaultContext): Promise<string | void>;
  /** How long the rotation may take under this fault before it counts as stuck. */
  timeoutMs?: number;
  /**
   * Strike at this activity for certain: the cell's worker pauses the activity before it runs
   * (scripts/stack/faultHold.ts), the fault starts, then the activity runs into it. Without it
   * the trigger is a progress poll every 200 ms, which a step shorter than that can slip past.
   */
  hold?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const triggered = (p: RotationProgress, step: string) =>
  step === 'start' ||
  (step.startsWith('phase:')
    ? p.phase === step.slice(6)
    : p.steps.some((s) => s.name === step && s.outcome === 'running'));

/** The cell's moment: its activity paused by the worker (`hold`), or its step/phase seen in the progress. */
async function strikesNow(h: Harness, spec: CellSpec, handle: WorkflowHandle): Promise<boolean> {
  if (spec.hold)
    return heldActivities(h.holdDir!).some((a) => a.activityType === spec.hold && a.workflowId === handle.workflowId);
  const p = await handle.query(progressQuery).catch(() => undefined);
  return Boolean(p && triggered(p, spec.step));
}

async function outcomeOf(
  handle: WorkflowHandle,
  timeoutMs: number,
): Promise<{ outcome: Outcome; result?: RotationResult; detail?: string }> {
  const settled = handle.result().then(
    (result: RotationResult) => ({
      outcome: (result.status === 'rolled-back' ? 'rolled-back' : 'completed') as Outcome,
      result,
    }),
    (e: { cause?: { type?: string; message?: string } }) => ({
      outcome: (e.cause?.type === 'RotationRolledBack' ? 'rolled-back' : 'failed') as Outcome,
      detail: `${e.cause?.type}: ${e.cause?.message?.slice(0, 160)}`,
    }),
  );
  const late = sleep(timeoutMs).then(async () => {
    const p = await handle.query(progressQuery).catch(() => undefined);
    return {
      outcome: (p?.phase === 'needs-attention' ? 'needs-attention' : 'stuck') as Outcome,
      detail: `after ${timeoutMs / 1000} s: phase ${p?.phase} ${JSON.stringify(p?.attention ?? '')}`,
    };
  });
  return Promise.race([settled, late]);
}

/** Every payload of the run's history decoded with the stack's codec key, with the raw JSON. */
async function historyText(cfg: StackConfig, handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  const keyFile = path.join(cfg.dir, 'codec.key');
  const codec = fs.existsSync(keyFile)
    ? new AesGcmCodec(fs.readFileSync(keyFile, 'utf8').trim(), 'rekey-1')
    : undefined;
  const out: string[] = [historyToJSON(history)];
  const walk = async (node: unknown): Promise<void> => {
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (obj.metadata && typeof obj.metadata === 'object' && obj.data instanceof Uint8Array) {
      const [plain] = codec ? await codec.decode([obj as Payload]).catch(() => [obj as Payload]) : [obj as Payload];
      out.push(Buffer.from(plain?.data ?? new Uint8Array()).toString('utf8'));
      return;
    }
    for (const v of Object.values(obj)) await walk(v);
  };
  await walk(history);
  return out.join('\n');
}

/** The end-state checks every cell shares; the pipeline gets up to `settleMs` to converge (Debezium reconnects on its own). */
export async function endState(
  h: Harness,
  procedure: ProcedureName,
  outcome: Outcome,
  before: string | null,
  settleMs = 45_000,
) {
  const proc = procedures[procedure];
  const deadline = Date.now() + settleMs;
  for (;;) {
    const now = await proc
      .inUse({ cfg: h.cfg, store: h.store })
      .catch((e: Error) => ({ id: null, problems: [`end state unreadable: ${e.message}`] }));
    const problems = [...now.problems];
    if (outcome === 'completed' && now.id === before)
      problems.push(`completed but the credential in use is still the old one (${before})`);
    if (outcome === 'rolled-back' && now.id !== before)
      problems.push(`rolled back but the credential in use is ${now.id}, not the old ${before}`);
    const left = await leftovers(h.store, proc.secrets);
    if (left.length) problems.push(`left over: ${left.join(', ')}`);
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(3000);
  }
}

/**
 * One cell: a rotation under CDC insert load, the fault injected when its step runs, then the
 * end state as an operator would check it.
 */
export async function runCell(h: Harness, spec: CellSpec): Promise<CellResult> {
  const proc = procedures[spec.procedure];
  const t0 = Date.now();
  const before = (await proc.inUse({ cfg: h.cfg, store: h.store })).id;
  const seen = new Set(await secretValues(h.store, proc.secrets));
  const db = await loadConnection(h.cfg);
  let handle: WorkflowHandle | undefined;
  let fault: Promise<string | void> | undefined;
  try {
    const run = await underLoad(
      { db: db as unknown as pg.Client, brokers: h.brokers, topic: pipeline.usersTopic, rate: 20 },
      async () => {
        handle = await proc.start(h.client, h.taskQueue, spec.input);
        const ended = outcomeOf(handle, spec.timeoutMs ?? 360_000);
        let done: Awaited<typeof ended> | undefined;
        void ended.then((x) => (done = x));
        let lastRead = 0;
        while (!done) {
          if (!fault && (await strikesNow(h, spec, handle))) {
            fault = spec
              .inject({ cfg: h.cfg, proxies: h.proxies, worker: h.worker, store: h.store, handle })
              .catch((e: Error) => `inject failed: ${e.message}`);
            if (spec.hold) {
              await sleep(500); // the fault is in place: let the paused activity run into it
              releaseHeld(h.holdDir!, spec.hold);
            }
          }
          if (Date.now() - lastRead > 1000) {
            lastRead = Date.now();
            for (const v of await secretValues(h.store, proc.secrets).catch(() => [])) seen.add(v);
          }
          await sleep(200);
        }
        const injected = fault ? await fault : undefined;
        return { ...done, injected };
      },
    );
    const events = summarize(run.emails, run.deliveries);
    const outcome: Outcome = fault ? run.result.outcome : 'not-triggered';
    if (outcome === 'needs-attention' || outcome === 'stuck') await h.stopLeftover(handle!);
    for (const v of await secretValues(h.store, proc.secrets)) seen.add(v);
    const problems = await endState(h, spec.procedure, outcome, before);
    const history = await historyText(h.cfg, handle!);
    const leaked = [...seen].filter((v) => history.includes(v) || history.includes(Buffer.from(v).toString('base64')));
    if (leaked.length) problems.push(`${leaked.length} secret value(s) in the workflow history`);
    if (events.lost > 0) problems.push(`${events.lost} change event(s) lost`);
    const ok = (outcome === 'completed' || outcome === 'rolled-back') && problems.length === 0;
    const detail = [run.result.detail, run.result.injected].filter(Boolean).join('; ') || undefined;
    return {
      procedure: spec.procedure,
      fault: spec.fault,
      step: spec.step,
      outcome,
      ok,
      seconds: Math.round((Date.now() - t0) / 1000),
      lost: events.lost,
      problems,
      detail,
    };
  } finally {
    await db.end();
  }
}
