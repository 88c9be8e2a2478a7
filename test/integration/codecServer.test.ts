import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { temporalAddress } from '../../scripts/stack/temporal.js';
import { dataConverter } from '../../workers/codec.js';
import { createCodecServer, loopbackHosts } from '../../workers/codecServer.js';
import { freePort } from '../freePort.js';

const run = promisify(execFile);
const cfg = loadStackConfig();
const cli = path.join(cfg.cache, `temporal-cli-${cfg.versions.temporalCli}`, 'temporal');
const address = temporalAddress(cfg);
const ui = `http://127.0.0.1:${cfg.ports.temporalUi}`;
const opsOrigin = 'https://ops.example.com';

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** Raw HTTP, so Host and Origin can be set to anything. `chunks`: send the body chunked, without content-length. */
function post(
  port: number,
  urlPath: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  chunks = 1,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.from(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(chunks === 1 ? { 'content-length': String(buf.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString(), headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    const size = Math.ceil(buf.length / chunks);
    for (let i = 0; i < buf.length; i += size) req.write(buf.subarray(i, i + size));
    req.end();
  });
}

/** Every payload object ({metadata: {encoding}}) anywhere in a proto-JSON document. */
function payloadsIn(
  doc: unknown,
  out: Array<{ encoding: string; keyId?: string }> = [],
): Array<{ encoding: string; keyId?: string }> {
  if (Array.isArray(doc)) doc.forEach((d) => payloadsIn(d, out));
  else if (doc && typeof doc === 'object') {
    const md = (doc as { metadata?: Record<string, unknown> }).metadata;
    if (md && typeof md.encoding === 'string') {
      const b64 = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString() : undefined);
      out.push({ encoding: b64(md.encoding)!, keyId: b64(md['encryption-key-id']) });
    }
    Object.values(doc).forEach((d) => payloadsIn(d, out));
  }
  return out;
}

describe('codec server with the real Temporal CLI', () => {
  // Mid-rotation of the codec key on purpose: the codec server already encrypts with
  // cs-new, the worker still with cs-old; each knows the other's key as a previous one.
  const oldKey = { id: 'cs-old', key: randomBytes(32).toString('base64') };
  const newKey = { id: 'cs-new', key: randomBytes(32).toString('base64') };
  const token = randomBytes(32).toString('hex');
  const taskQueue = `codec-cli-${randomBytes(4).toString('hex')}`;
  const workflowId = `codec-cli-${randomBytes(4).toString('hex')}`;
  const marker = `plain-marker-${randomBytes(4).toString('hex')}`;
  let port: number;
  let endpoint: string;
  let server: http.Server;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;

  /** The CLI, with nothing from the environment's TEMPORAL_* settings. */
  const temporal = async (args: string[], codec: 'token' | 'no-token' | 'none' = 'token') => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
    const codecArgs =
      codec === 'none'
        ? []
        : ['--codec-endpoint', endpoint, ...(codec === 'token' ? ['--codec-auth', `Bearer ${token}`] : [])];
    const { stdout } = await run(cli, [...args, '--address', address, '--namespace', 'default', ...codecArgs], {
      env,
      timeout: 60_000,
    });
    return stdout;
  };

  beforeAll(async () => {
    expect(fs.existsSync(cli), `Temporal CLI not built yet at ${cli} (npm run stack:up builds it)`).toBe(true);
    port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    server = createCodecServer({
      keyring: { current: newKey, previous: [oldKey] },
      authToken: token,
      allowedOrigins: [ui, opsOrigin],
      trustedUiOrigins: [ui],
      allowedHosts: loopbackHosts(port),
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

    connection = await NativeConnection.connect({ address });
    worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./fixtures/codecEchoWorkflow.ts', import.meta.url)),
      dataConverter: dataConverter({
        key: oldKey.key,
        keyId: oldKey.id,
        previousKeys: [newKey],
        insecureNoEncryption: false,
      }),
    });
    running = worker.run();
  });

  afterAll(async () => {
    if (worker) {
      worker.shutdown();
      await running;
    }
    await connection?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('answers {} and {"payloads":[]} with an empty list on both endpoints', async () => {
    for (const op of ['/encode', '/decode']) {
      for (const body of ['{}', '{"payloads":[]}']) {
        const res = await post(port, op, body, { authorization: `Bearer ${token}` });
        expect(res.status, `${op} ${body}`).toBe(200);
        expect(JSON.parse(res.body)).toEqual({ payloads: [] });
      }
    }
  });

  it('start, query (no arguments), signal and result through the codec endpoint with plain JSON', async () => {
    const started = JSON.parse(
      await temporal([
        'workflow',
        'start',
        '--task-queue',
        taskQueue,
        '--type',
        'codecEcho',
        '--workflow-id',
        workflowId,
        '--input',
        `{"x":1,"note":"${marker}"}`,
        '-o',
        'json',
      ]),
    ) as { workflowId: string; runId: string };
    expect(started.workflowId).toBe(workflowId);

    // a query without arguments: the CLI sends {} to /encode
    const query = JSON.parse(
      await temporal(['workflow', 'query', '--workflow-id', workflowId, '--name', 'state', '-o', 'json']),
    ) as { queryResult: unknown[] };
    expect(query.queryResult).toEqual([{ input: { x: 1, note: marker }, value: null, signalled: false }]);

    await temporal(['workflow', 'signal', '--workflow-id', workflowId, '--name', 'set', '--input', '{"y":2}']);

    const result = JSON.parse(await temporal(['workflow', 'result', '--workflow-id', workflowId, '-o', 'json'])) as {
      status: string;
      result: unknown;
    };
    expect(result.status).toBe('COMPLETED');
    expect(result.result).toEqual({ input: { x: 1, note: marker }, value: { y: 2 } });

    const after = JSON.parse(
      await temporal(['workflow', 'query', '--workflow-id', workflowId, '--name', 'state', '-o', 'json']),
    ) as { queryResult: unknown[] };
    expect(after.queryResult).toEqual([{ input: { x: 1, note: marker }, value: { y: 2 }, signalled: true }]);
  });

  it('history fetched without the codec holds only binary/encrypted payloads, each naming its key', async () => {
    const raw = await temporal(
      ['workflow', 'show', '--workflow-id', workflowId, '-o', 'json', '--no-json-shorthand-payloads'],
      'none',
    );
    expect(raw).not.toContain(marker);
    const payloads = payloadsIn(JSON.parse(raw));
    // input and signal (sealed by the codec server, via the CLI), result (sealed by the worker)
    expect(payloads.length).toBeGreaterThanOrEqual(3);
    expect(new Set(payloads.map((p) => p.encoding))).toEqual(new Set(['binary/encrypted']));
    expect(new Set(payloads.map((p) => p.keyId))).toEqual(new Set(['cs-new', 'cs-old']));
  });

  it('refuses a caller without the token (401), also through the CLI', async () => {
    const res = await post(port, '/decode', '{}');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await post(port, '/encode', '{}', { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await post(port, '/encode', '{}', { authorization: `Basic ${token}` })).status).toBe(401);
    const err = (await temporal(
      ['workflow', 'query', '--workflow-id', workflowId, '--name', 'state'],
      'no-token',
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).not.toBe(0);
    expect(err.stderr).toContain('Unauthorized');
  });

  it('checks Origin: a foreign browser origin gets 403; the loopback dev UI needs no token; other allowed origins do', async () => {
    const foreign = await post(port, '/decode', '{}', {
      authorization: `Bearer ${token}`,
      origin: 'http://evil.example',
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();

    const fromUi = await post(port, '/decode', '{}', { origin: ui });
    expect(fromUi.status).toBe(200);
    expect(fromUi.headers['access-control-allow-origin']).toBe(ui);

    expect((await post(port, '/decode', '{}', { origin: opsOrigin })).status).toBe(401);
    expect((await post(port, '/decode', '{}', { origin: opsOrigin, authorization: `Bearer ${token}` })).status).toBe(
      200,
    );
  });

  it('checks Host against the allow-list (DNS rebinding): 421', async () => {
    const res = await post(port, '/decode', '{}', {
      authorization: `Bearer ${token}`,
      host: `attacker.example:${port}`,
    });
    expect(res.status).toBe(421);
    expect(
      (await post(port, '/decode', '{}', { authorization: `Bearer ${token}`, host: `localhost:${port}` })).status,
    ).toBe(200);
  });

  it('limits the body to 4 MiB (413), declared or streamed, and echoes no payload content in errors', async () => {
    const big = JSON.stringify({
      payloads: [{ metadata: {}, data: Buffer.alloc(4 * 1024 * 1024, 7).toString('base64') }],
    });
    const declared = await post(port, '/encode', big, { authorization: `Bearer ${token}` });
    expect(declared.status).toBe(413);
    const streamed = await post(port, '/encode', big, { authorization: `Bearer ${token}` }, 64);
    expect(streamed.status).toBe(413);

    const secret = Buffer.from(`{"password":"${marker}"}`).toString('base64');
    const unknownKey = await post(
      port,
      '/decode',
      JSON.stringify({
        payloads: [
          {
            metadata: {
              encoding: Buffer.from('binary/encrypted').toString('base64'),
              'encryption-key-id': Buffer.from('cs-retired').toString('base64'),
            },
            data: secret,
          },
        ],
      }),
      { authorization: `Bearer ${token}` },
    );
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body).toContain('cs-retired');
    expect(unknownKey.body).not.toContain(secret);
    const malformed = await post(port, '/encode', `{"payloads":"${marker}"}`, { authorization: `Bearer ${token}` });
    expect(malformed.status).toBe(400);
    expect(malformed.body).not.toContain(marker);
  });
});
