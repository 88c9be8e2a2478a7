import fs from 'node:fs';
import http from 'node:http';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec } from './codec.js';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: p.data === undefined ? undefined : new Uint8Array(Buffer.from(p.data, 'base64')),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: p.data ? Buffer.from(p.data).toString('base64') : undefined,
});

/**
 * Remote codec endpoint for the Temporal Web UI (POST /decode, /encode): lets an operator's
 * browser show rotation inputs, memo, results and failures that the worker encrypted.
 * Serves only the origins given (the UI's), on loopback.
 */
export function createCodecServer(opts: { key: string; keyId: string; allowedOrigins: string[] }): http.Server {
  const codec = new AesGcmCodec(opts.key, opts.keyId);
  return http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && opts.allowedOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const op = req.url?.split('?')[0];
    if (req.method !== 'POST' || (op !== '/decode' && op !== '/encode')) {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        try {
          const { payloads } = JSON.parse(body || '{"payloads":[]}') as { payloads: JsonPayload[] };
          const input = payloads.map(fromJson);
          const out = op === '/decode' ? await codec.decode(input) : await codec.encode(input);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
        } catch {
          // never echo payload content in an error
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"cannot process payloads"}');
        }
      })();
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.REKEY_CODEC_SERVER_PORT ?? 18084);
  const keyFile = process.env.REKEY_CODEC_KEY_FILE;
  const key = process.env.REKEY_CODEC_KEY ?? (keyFile ? fs.readFileSync(keyFile, 'utf8').trim() : undefined);
  if (!key) {
    console.error('codec server: set REKEY_CODEC_KEY or REKEY_CODEC_KEY_FILE');
    process.exit(2);
  }
  const origins = (process.env.REKEY_CODEC_ALLOWED_ORIGINS ?? '').split(',').filter(Boolean);
  createCodecServer({ key, keyId: process.env.REKEY_CODEC_KEY_ID ?? 'rekey-1', allowedOrigins: origins }).listen(port, '127.0.0.1', () => console.error(`codec server on 127.0.0.1:${port}`));
}
