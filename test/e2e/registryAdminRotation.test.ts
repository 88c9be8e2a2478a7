import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { credentialStarters } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { pipeline } from '../../scripts/stack/config.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg, stopLeftover, store } from './pipeline.js';

/**
 * The registry's `admin` account rotated through the registry procedure while an operator's
 * tool keeps doing admin operations with it (reading the secret for each, as rekey's own
 * clients do): not one may be refused, and afterwards the old admin user is.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
beforeAll(async () => {
  w = await startTestWorker();
});
afterEach(async () => {
  await stopLeftover(running);
  running = undefined;
});
afterAll(async () => {
  await w?.stop();
});

const admin = async () => {
  const d = (await store.read(pipeline.registrySecret))!.data;
  return { user: d['admin-user']!, password: d['admin-password']! };
};
const basic = (c: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;
const configUrl = `http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7/config`;

/** One admin operation (the global compatibility level, set to what it is) with the secret's admin credential now. */
async function adminOperation(): Promise<number | string> {
  try {
    const auth = basic(await admin());
    const now = (await (await fetch(configUrl, { headers: { authorization: auth } })).json()) as {
      compatibilityLevel?: string;
    };
    const res = await fetch(configUrl, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ compatibility: now.compatibilityLevel ?? 'BACKWARD' }),
    });
    await res.body?.cancel();
    return res.status;
  } catch (err) {
    return (err as Error).message; // the registry restarting: not a refusal
  }
}

describe("the Schema Registry's admin account", () => {
  it('rotates with admin operations working throughout: 0 refused; the old admin user refused afterwards', async () => {
    const old = await admin();
    const answers: Record<string, number> = {};
    let done = false;
    const operator = (async () => {
      while (!done) {
        const a = String(await adminOperation());
        answers[a] = (answers[a] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      const handle = await credentialStarters['schema-registry'](
        w.client,
        { target: 'ecommerce', requestedBy: 'e2e', account: 'admin', gracePeriod: 'PT1S', clientWatch: 'PT3S' },
        { taskQueue: w.taskQueue, now: new Date() },
      );
      running = handle;
      const result = (await handle.result()) as RotationResult;
      running = undefined;
      expect(result.status).toBe('completed');
      expect(result.from).toBe(old.user);
    } finally {
      done = true;
      await operator;
    }
    console.info(`registry admin rotation, admin operations: ${JSON.stringify(answers)}`);
    expect(answers['200']).toBeGreaterThan(10);
    expect(answers['401'] ?? 0).toBe(0);
    expect(answers['403'] ?? 0).toBe(0);
    const now = await admin();
    expect(now.user).not.toBe(old.user);
    const status = async (c: { user: string; password: string }) =>
      (await fetch(configUrl, { headers: { authorization: basic(c) } })).status;
    expect(await status(old)).toBe(401);
    expect(await status(now)).toBe(200);
  });
});
