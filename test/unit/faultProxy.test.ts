import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../scripts/stack/faultProxy.js';

/** The fault proxy in front of a tiny HTTP server, as a client sees it through each mode. */
let upstream: http.Server;
let proxy: FaultProxy;
beforeAll(async () => {
  upstream = http.createServer((req, res) => res.end(`ok ${req.method} ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = 20000 + Math.floor(Math.random() * 20000);
  proxy = await new FaultProxy('test', port, {
    host: '127.0.0.1',
    port: (upstream.address() as AddressInfo).port,
  }).start();
});
afterAll(async () => {
  await proxy.stop();
  upstream.close();
});

const get = (path: string, timeoutMs = 2000) =>
  fetch(`http://127.0.0.1:${proxy.port}${path}`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    async (r) => `${r.status} ${await r.text()}`,
    (e: Error) => `error ${e.name}`,
  );

describe('fault proxy', () => {
  it('passes traffic through', async () => {
    proxy.set({ kind: 'pass' });
    expect(await get('/a')).toBe('200 ok GET /a');
  });

  it('refuses connections while the service is "down", and passes again once healed', async () => {
    proxy.set({ kind: 'refuse' });
    expect(await get('/a')).toMatch(/^error/);
    proxy.set({ kind: 'pass' });
    expect(await get('/a')).toBe('200 ok GET /a');
  });

  it('answers a 5xx only for matching requests in http-error mode', async () => {
    proxy.set({ kind: 'http-error', status: 503, match: /^GET \/connectors\/.*\/status/ });
    expect(await get('/connectors/x/status')).toMatch(/^503 .*injected 503/);
    expect(await get('/connectors/x/config')).toBe('200 ok GET /connectors/x/config');
    proxy.set({ kind: 'pass' });
  });

  it('never answers in blackhole mode (the client times out), and delays in delay mode', async () => {
    proxy.set({ kind: 'blackhole' });
    expect(await get('/a', 500)).toBe('error TimeoutError');
    proxy.set({ kind: 'delay', ms: 300 });
    const t0 = Date.now();
    expect(await get('/a')).toBe('200 ok GET /a');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    proxy.set({ kind: 'pass' });
  });
});
