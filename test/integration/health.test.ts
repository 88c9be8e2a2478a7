import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedWorkerConfig, createEmbeddedWorker } from '../../scripts/lib/session.js';
import { FaultProxy } from '../../scripts/stack/faultProxy.js';
import { healthReporter, startHealthServer } from '../../workers/health.js';
import { cfg } from '../e2e/pipeline.js';

/**
 * The probes of deploy/worker.yaml against a real worker whose connection to the stack's
 * Temporal runs through a fault proxy: not Ready before it polls, Ready while it does, not Ready
 * while Temporal cannot be reached (yet alive: a restart would not help), dead once stopped.
 */
const proxy = new FaultProxy('temporal', 21000 + Math.floor(Math.random() * 9000), {
  host: '127.0.0.1',
  port: cfg.ports.temporal,
});
let server: http.Server | undefined;
afterAll(async () => {
  server?.close();
  await proxy.stop();
});

const probe = async (path: string) => {
  const res = await fetch(`http://127.0.0.1:${(server!.address() as AddressInfo).port}${path}`);
  return { status: res.status, body: (await res.json()) as { worker: string; temporal: string; ready: boolean } };
};
async function until(path: string, status: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe(path);
    if (r.status === status || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}

describe('the worker health endpoint (/livez, /readyz)', () => {
  it('Ready only while it polls and Temporal answers; alive until it stops', async () => {
    await proxy.start();
    const base = embeddedWorkerConfig().config;
    const config = {
      ...base,
      temporal: {
        ...base.temporal,
        address: `127.0.0.1:${proxy.port}`,
        taskQueue: `health-${randomBytes(3).toString('hex')}`,
      },
    };
    const { worker, connection } = await createEmbeddedWorker(config, { quiet: true });
    server = await startHealthServer(
      '127.0.0.1:0',
      healthReporter(worker, connection, { cacheMs: 0, timeoutMs: 1000 }),
    );

    expect(await probe('/readyz')).toMatchObject({ status: 503, body: { worker: 'INITIALIZED' } });
    expect((await probe('/livez')).status).toBe(200);
    const running = worker.run();
    expect(await until('/readyz', 200)).toMatchObject({
      status: 200,
      body: { worker: 'RUNNING', temporal: 'serving' },
    });

    proxy.set({ kind: 'refuse' }); // Temporal lost
    const lost = await until('/readyz', 503);
    expect(lost).toMatchObject({
      status: 503,
      body: { worker: 'RUNNING', temporal: expect.stringMatching(/^unreachable: /) },
    });
    expect((await probe('/livez')).status).toBe(200);
    proxy.set({ kind: 'pass' });
    expect((await until('/readyz', 200)).status).toBe(200);

    worker.shutdown();
    await running;
    expect(await probe('/livez')).toMatchObject({ status: 503, body: { worker: 'STOPPED' } });
    await connection.close();
  });
});
