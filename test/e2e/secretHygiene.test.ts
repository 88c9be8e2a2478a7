import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { createClient } from '../../workers/client.js';
import { AesGcmCodec } from '../../workers/codec.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import { cleanupNowSignal } from '../../workflows/rotation/index.js';
import { cfg, store, waitPhase, stopLeftover } from './pipeline.js';
import { WorkerProcess } from './workerProcess.js';

const { config } = embeddedWorkerConfig();
const taskQueue = `rekey-hygiene-${randomBytes(3).toString('hex')}`;
const worker = new WorkerProcess(taskQueue, path.join(cfg.logDir, `${taskQueue}.log`));
const postgresLog = path.join(cfg.logDir, 'postgres.log');
let client: Client;
let connection: Connection;
let running: WorkflowHandle | undefined;

async function setLogStatement(value: 'all' | null) {
  const db = await adminClient(cfg, 'postgres');
  try {
    await db.query(value ? `ALTER SYSTEM SET log_statement = '${value}'` : 'ALTER SYSTEM RESET log_statement');
    await db.query('SELECT pg_reload_conf()');
  } finally {
    await db.end();
  }
}

async function logStatement(): Promise<string> {
  const db = await adminClient(cfg, pipeline.database);
  try {
    return (await db.query<{ log_statement: string }>('SHOW log_statement')).rows[0]!.log_statement;
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  ({ client, connection } = await createClient(config));
  worker.start();
});
afterAll(async () => {
  await stopLeftover(running);
  await worker.kill();
  await connection?.close();
});

/** Every payload in a history, decoded as an operator holding the codec key sees it. */
async function decodedPayloads(node: unknown, codec: AesGcmCodec, out: string[] = []): Promise<string[]> {
  if (!node || typeof node !== 'object') return out;
  const obj = node as Record<string, unknown>;
  if (obj.metadata && typeof obj.metadata === 'object' && obj.data instanceof Uint8Array) {
    const [plain] = await codec.decode([obj as Payload]);
    out.push(Buffer.from(plain?.data ?? new Uint8Array()).toString('utf8'));
    return out;
  }
  for (const v of Object.values(obj)) await decodedPayloads(v, codec, out);
  return out;
}

describe('secret hygiene of a real rotation', () => {
  it('neither the new nor the old password reaches the PostgreSQL statement log, any workflow history, the worker log or the audit log', async () => {
    const logStart = fs.existsSync(postgresLog) ? fs.statSync(postgresLog).size : 0;
    const passwords: Array<[string, string]> = [];
    await setLogStatement('all');
    try {
      expect(await logStatement()).toBe('all');
      const handle = await startPostgresCdcRotation(
        client,
        { target: 'ecommerce', gracePeriod: 'PT1H', requestedBy: 'hygiene-test', reason: 'secret hygiene' },
        { taskQueue },
      );
      running = handle;
      const grace = await waitPhase(handle, 'grace', 240_000);
      // the values a leak would show: the new password (current) and the old one (kept in -backup during grace)
      const current = (await store.read(pipeline.cdcSecret))!;
      const backup = (await store.read(`${pipeline.cdcSecret}-backup`))!;
      expect(current.data['db-username']).toBe(grace.to);
      expect(backup.data['db-username']).toBe(grace.from);
      passwords.push(['new password', current.data['db-password']!], ['old password', backup.data['db-password']!]);
      for (const [, p] of passwords) expect(p.length).toBeGreaterThanOrEqual(16);
      await handle.signal(cleanupNowSignal, { by: 'hygiene-test' });
      expect((await handle.result()).status).toBe('completed');
      running = undefined;
    } finally {
      await setLogStatement(null);
    }
    expect(await logStatement()).toBe('none');

    const haystacks: Array<[string, string]> = [];
    // PostgreSQL logged every statement of the rotation: the role was created with a SCRAM verifier, never the password
    const pgLog = fs.readFileSync(postgresLog, 'utf8');
    const duringRotation = pgLog.slice(logStart);
    expect(duringRotation).toMatch(
      /statement: CREATE ROLE "debezium_\d{8}_\d{4,6}" WITH LOGIN REPLICATION PASSWORD 'SCRAM-SHA-256\$4096:/,
    );
    expect(duringRotation).toMatch(/statement: DROP ROLE IF EXISTS "debezium_/);
    haystacks.push(['postgres.log', pgLog]);

    const codec = new AesGcmCodec(fs.readFileSync(path.join(cfg.dir, 'codec.key'), 'utf8').trim(), config.codec.keyId);
    let histories = 0;
    for await (const wf of client.workflow.list({ query: 'RotationComponent = "postgresql-cdc"' })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      haystacks.push([
        `history ${wf.workflowId}/${wf.runId}`,
        `${historyToJSON(history)}\n${(await decodedPayloads(history, codec)).join('\n')}`,
      ]);
      histories++;
    }
    expect(histories).toBeGreaterThan(0);
    // the decoding worked: decoded payloads show the (non-secret) user names and the reason
    const all = haystacks.map(([, t]) => t).join('\n');
    expect(all).toContain('"reason":"secret hygiene"');
    const workerLog = worker.log();
    expect(workerLog).toContain('development worker started');
    haystacks.push(['worker log', workerLog]);
    haystacks.push(['audit log', fs.readFileSync(config.audit.path, 'utf8')]);

    for (const [where, text] of haystacks) {
      for (const [what, secret] of passwords) {
        expect(text.includes(secret), `${what} found in ${where}`).toBe(false);
        expect(text.includes(Buffer.from(secret).toString('base64')), `${what} (base64) found in ${where}`).toBe(false);
      }
    }
  });
});
