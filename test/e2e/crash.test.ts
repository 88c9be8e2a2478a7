import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Connection } from '@temporalio/client';
import { repoRoot } from '../../scripts/stack/config.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { createClient } from '../../workers/client.js';
import { AesGcmCodec } from '../../workers/codec.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import type { RotationProgress } from '../../workflows/rotationState.js';
import { cfg, pipelineState, store, waitPhase } from './pipeline.js';

const { config } = embeddedWorkerConfig();
const taskQueue = `rekey-crash-${randomBytes(3).toString('hex')}`;
const workerLog = path.join(cfg.logDir, `${taskQueue}.log`);
let worker: ChildProcess | undefined;
let client: Client;
let connection: Connection;
let running: WorkflowHandle | undefined;

/** The worker as operators run it: its own process (`npm run worker`), logs to a file. */
function startWorker(): ChildProcess {
  const out = fs.openSync(workerLog, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers/main.ts')], {
    env: { ...process.env, REKEY_TASK_QUEUE: taskQueue, REKEY_CODEC_KEY_FILE: path.join(cfg.dir, 'codec.key') },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  return child;
}

async function kill(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function progress(handle: WorkflowHandle): Promise<RotationProgress | undefined> {
  return handle.query<RotationProgress>('progress').catch(() => undefined);
}

beforeAll(async () => {
  ({ client, connection } = await createClient(config));
  worker = startWorker();
});
afterAll(async () => {
  // a failed assertion must not leave a rotation holding the target for the next test file
  if (running) await running.terminate('crash test ended').catch(() => undefined);
  if (worker && worker.exitCode === null) await kill(worker);
  await connection?.close();
});

describe('a worker killed with SIGKILL mid-rotation', () => {
  const secretValues: string[] = [];

  it('converges after a kill following each of several steps', async () => {
    const before = await pipelineState();
    const handle = await startPostgresCdcRotation(client, { target: 'ecommerce', gracePeriod: 'PT1H', requestedBy: 'crash-test' }, { taskQueue });
    running = handle;
    const killAfter = ['stage', 'create-role', 'promote', 'running', 'canary-read-back'];
    for (const step of killAfter) {
      const deadline = Date.now() + 180_000;
      for (;;) {
        const p = await progress(handle);
        if (p?.steps.some((s) => s.name === step && s.outcome === 'ok')) break;
        if (Date.now() > deadline) throw new Error(`step ${step} never completed; last phase ${p?.phase}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await kill(worker!);
      worker = startWorker();
    }
    const grace = await waitPhase(handle, 'grace', 240_000);
    // keep the values a leak would show: the new password (current) and the old one (backup)
    for (const name of ['debezium-credentials', 'debezium-credentials-backup']) {
      const s = await store.read(name);
      if (s?.data['db-password']) secretValues.push(s.data['db-password']);
    }
    expect(secretValues).toHaveLength(2);
    await kill(worker!);
    worker = startWorker();
    await handle.signal('cleanupNow', { by: 'crash-test' });
    const result = await handle.result();
    expect(result.status).toBe('completed');
    const after = await pipelineState();
    expect(after.streamingUser).toBe(grace.newUser);
    expect(after.cdcRoles).toEqual([...before.cdcRoles.filter((r) => r !== before.secretUser), grace.newUser].sort());
    expect(after.hasPending || after.hasBackup).toBe(false);
    // every step ran to completion exactly once in the record, however often it was retried
    const okSteps = result.steps.filter((s) => s.outcome === 'ok').map((s) => s.name);
    expect(new Set(okSteps).size).toBe(okSteps.length);
  });

  it('never puts a secret value into history, worker logs, errors or the audit log', async () => {
    expect(secretValues.length).toBeGreaterThan(0);
    const codec = new AesGcmCodec(fs.readFileSync(path.join(cfg.dir, 'codec.key'), 'utf8').trim(), config.codec.keyId);
    const haystacks: Array<[string, string]> = [];
    for await (const wf of client.workflow.list({ query: 'RotationComponent = "postgresql-cdc"' })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const raw = JSON.stringify(history);
      // decode every payload the codec sealed, so the scan sees what an operator with the key sees
      const decoded: string[] = [];
      const visit = async (node: unknown): Promise<void> => {
        if (!node || typeof node !== 'object') return;
        const obj = node as Record<string, unknown>;
        if (obj.metadata && obj.data instanceof Uint8Array) {
          const [plain] = await codec.decode([obj as never]);
          decoded.push(Buffer.from((plain as { data?: Uint8Array }).data ?? []).toString('utf8'));
          return;
        }
        for (const v of Object.values(obj)) await visit(v);
      };
      await visit(history);
      haystacks.push([`history ${wf.workflowId}`, raw + decoded.join('\n')]);
    }
    expect(haystacks.length).toBeGreaterThan(0);
    // the decoding worked: decoded payloads show the (non-secret) user names
    expect(haystacks.some(([, text]) => /debezium_\d{8}_\d{4}/.test(text))).toBe(true);
    haystacks.push(['worker log', fs.readFileSync(workerLog, 'utf8')]);
    haystacks.push(['audit log', fs.readFileSync(config.audit.path, 'utf8')]);
    for (const [where, text] of haystacks) {
      for (const secret of secretValues) {
        expect(text.includes(secret), `secret found in ${where}`).toBe(false);
        expect(text.includes(Buffer.from(secret).toString('base64')), `base64 secret found in ${where}`).toBe(false);
      }
    }
  });
});
