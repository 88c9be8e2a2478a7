import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec, UndecryptablePayloadError, UnknownKeyIdError, keyringOf, type Keyring } from './codec.js';
import { ConfigError, loadCodecConfig } from './config.js';

/** Payload as the Temporal CLI, the SDKs and the Web UI send it (proto JSON: bytes as base64). */
const JsonPayload = z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() });
type JsonPayload = z.infer<typeof JsonPayload>;
/** `{}` is what the CLI sends for an empty list (a query without arguments). */
const Body = z.object({ payloads: z.array(JsonPayload).nullish() });

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  ),
  data: p.data === undefined ? undefined : new Uint8Array(Buffer.from(p.data, 'base64')),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: p.data ? Buffer.from(p.data).toString('base64') : undefined,
});

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Host header values under which a loopback-bound server on `port` may be addressed. */
export const loopbackHosts = (port: number) => LOOPBACK_NAMES.map((h) => `${h}:${port}`);

export interface CodecServerOptions {
  keyring: Keyring;
  /** Required as `Authorization: Bearer <token>` on every POST (the CLI: `--codec-auth "Bearer <token>"`). */
  authToken: string;
  /** Browser origins allowed to call (CORS); any other Origin is refused with 403. No Origin: a CLI or SDK. */
  allowedOrigins: string[];
  /**
   * Loopback Web UI origins accepted without a token: the dev server's UI cannot send one
   * (it has no --ui-codec-pass-access-token, and the UI forwards tokens only to https
   * endpoints). A browser cannot forge Origin; a local process can, so only loopback
   * origins qualify. Must also be in allowedOrigins.
   */
  trustedUiOrigins?: string[];
  /** Accepted Host header values, host:port (DNS-rebinding protection); others get 421. */
  allowedHosts: string[];
  /** Larger request bodies get 413. Default 4 MiB. */
  maxBodyBytes?: number;
  /** One line per refused or failed request (never payload content). */
  log?: (line: string) => void;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function isLoopbackOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') && LOOPBACK_NAMES.includes(u.hostname) && u.origin === origin
    );
  } catch {
    return false;
  }
}

/** A TCP peer on this machine: 127.0.0.0/8, ::1, or either mapped into IPv6. */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Remote codec endpoint (POST /encode, /decode) for the Temporal CLI (`--codec-endpoint`,
 * `--codec-auth`) and the Web UI (`--ui-codec-endpoint`): an operator sees and sends the
 * plain values the workers encrypt. Checks, in order: Host (421), Origin (403), method
 * (405), bearer token (401), path (404), body size (413), body shape (400).
 */
export function createCodecServer(opts: CodecServerOptions): http.Server {
  const codec = new AesGcmCodec(opts.keyring);
  if (opts.authToken.length < 16) throw new ConfigError('codec server: the auth token must be at least 16 characters');
  const trusted = opts.trustedUiOrigins ?? [];
  for (const o of trusted) {
    if (!isLoopbackOrigin(o))
      throw new ConfigError(
        `codec server: trusted UI origin ${o} is not a loopback origin (http://127.0.0.1:<port>, http://localhost:<port>)`,
      );
    if (!opts.allowedOrigins.includes(o))
      throw new ConfigError(`codec server: trusted UI origin ${o} must also be an allowed origin`);
  }
  const hosts = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
  const tokenDigest = digest(opts.authToken);
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.log ?? (() => undefined);

  const authorized = (req: http.IncomingMessage, origin: string | undefined): boolean => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
    if (m && timingSafeEqual(digest(m[1]!), tokenDigest)) return true;
    // Origin is only a browser's word: any other program can send it. Token-free access is for
    // the dev UI's browser on this machine, so the peer itself must be loopback too.
    return origin !== undefined && trusted.includes(origin) && isLoopbackPeer(req.socket.remoteAddress);
  };

  const readBody = (req: http.IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > maxBody) return reject(new HttpError(413, `request body larger than ${maxBody} bytes`));
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          req.removeAllListeners('data');
          reject(new HttpError(413, `request body larger than ${maxBody} bytes`));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const handle = async (op: '/encode' | '/decode', raw: Buffer): Promise<{ payloads: JsonPayload[] }> => {
    let json: unknown;
    try {
      json = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'request body is not JSON');
    }
    const parsed = Body.safeParse(json);
    if (!parsed.success)
      throw new HttpError(400, 'request body must be {"payloads":[{"metadata":{…},"data":"<base64>"}]}');
    const input = (parsed.data.payloads ?? []).map(fromJson);
    if (op === '/encode') return { payloads: (await codec.encode(input)).map(toJson) };
    const out: Payload[] = [];
    for (const [i, p] of input.entries()) {
      try {
        out.push(...(await codec.decode([p])));
      } catch (err) {
        if (err instanceof UnknownKeyIdError || err instanceof UndecryptablePayloadError)
          throw new HttpError(400, `payload ${i}: ${err.message}`);
        throw err;
      }
    }
    return { payloads: out.map(toJson) };
  };

  return http.createServer((req, res) => {
    const send = (status: number, body?: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      res.writeHead(status, {
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const refuse = (status: number, error: string, headers: http.OutgoingHttpHeaders = {}) => {
      log(
        `codec server: ${req.method} ${req.url?.split('?')[0]} → ${status} ${error}${req.headers.origin ? ` (origin ${req.headers.origin})` : ''}`,
      );
      send(status, { error }, headers);
    };

    const host = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(host)) return refuse(421, 'unexpected Host header');
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!opts.allowedOrigins.includes(origin)) return refuse(403, 'origin not allowed');
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      return send(204, undefined, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'content-type, x-namespace, authorization, authorization-extras',
        'Access-Control-Max-Age': '600',
        ...(req.headers['access-control-request-private-network'] === 'true' && origin
          ? { 'Access-Control-Allow-Private-Network': 'true' }
          : {}),
      });
    }
    if (req.method !== 'POST') return refuse(405, 'use POST /encode or POST /decode', { allow: 'POST, OPTIONS' });
    if (!authorized(req, origin))
      return refuse(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="rekey-codec"' });
    const op = req.url?.split('?')[0];
    if (op !== '/encode' && op !== '/decode') return refuse(404, 'use POST /encode or POST /decode');

    readBody(req)
      .then((raw) => handle(op, raw))
      .then(
        (out) => send(200, out),
        (err: unknown) => {
          if (err instanceof HttpError) {
            if (err.status === 413) {
              // stop reading; the client learns why before the connection closes
              res.setHeader('connection', 'close');
              req.resume();
            }
            return refuse(err.status, err.message);
          }
          // never echo payload content in an error
          log(`codec server: ${op} failed: ${(err as Error)?.name ?? 'error'}`);
          send(500, { error: 'cannot process payloads' });
        },
      );
  });
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Server settings from the environment; a bad value names its variable. */
const ServerEnv = z.object({
  REKEY_CODEC_SERVER_PORT: z.coerce.number().int().min(1).max(65535).default(18084),
  REKEY_CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  REKEY_CODEC_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(DEFAULT_MAX_BODY_BYTES),
  REKEY_CODEC_ALLOWED_ORIGINS: z.string().optional(),
  REKEY_CODEC_TRUSTED_UI_ORIGINS: z.string().optional(),
  REKEY_CODEC_ALLOWED_HOSTS: z.string().optional(),
  REKEY_CODEC_AUTH_TOKEN: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 32)').optional(),
  REKEY_CODEC_AUTH_TOKEN_FILE: z.string().min(1).optional(),
});

export function codecServerOptionsFromEnv(env: NodeJS.ProcessEnv): CodecServerOptions & { port: number; host: string } {
  const parsed = ServerEnv.safeParse(env);
  if (!parsed.success)
    throw new ConfigError(
      `invalid codec server configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const e = parsed.data;
  const keyring = keyringOf(loadCodecConfig(env));
  if (!keyring)
    throw new ConfigError(
      'codec server: set REKEY_CODEC_KEY or REKEY_CODEC_KEY_FILE (and REKEY_CODEC_KEY_ID, REKEY_CODEC_PREVIOUS_KEYS)',
    );
  let authToken = e.REKEY_CODEC_AUTH_TOKEN;
  if (!authToken && e.REKEY_CODEC_AUTH_TOKEN_FILE) {
    try {
      authToken = fs.readFileSync(e.REKEY_CODEC_AUTH_TOKEN_FILE, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `cannot read REKEY_CODEC_AUTH_TOKEN_FILE=${e.REKEY_CODEC_AUTH_TOKEN_FILE}: ${(err as Error).message}`,
      );
    }
  }
  if (!authToken)
    throw new ConfigError(
      'codec server: set REKEY_CODEC_AUTH_TOKEN or REKEY_CODEC_AUTH_TOKEN_FILE (callers send Authorization: Bearer <token>)',
    );
  const loopback = LOOPBACK_NAMES.includes(e.REKEY_CODEC_SERVER_HOST) || e.REKEY_CODEC_SERVER_HOST === '::1';
  const trustedUiOrigins = list(e.REKEY_CODEC_TRUSTED_UI_ORIGINS);
  if (!loopback && trustedUiOrigins.length > 0) {
    throw new ConfigError(
      `codec server: REKEY_CODEC_TRUSTED_UI_ORIGINS (token-free browser origins) is only for a server bound to loopback, not REKEY_CODEC_SERVER_HOST=${e.REKEY_CODEC_SERVER_HOST}: remove it and give the Web UI the token (--ui-codec-pass-access-token over https)`,
    );
  }
  const allowedHosts = list(e.REKEY_CODEC_ALLOWED_HOSTS);
  return {
    port: e.REKEY_CODEC_SERVER_PORT,
    host: e.REKEY_CODEC_SERVER_HOST,
    keyring,
    authToken,
    allowedOrigins: list(e.REKEY_CODEC_ALLOWED_ORIGINS),
    trustedUiOrigins,
    allowedHosts:
      allowedHosts.length > 0
        ? allowedHosts
        : loopback
          ? loopbackHosts(e.REKEY_CODEC_SERVER_PORT)
          : [`${e.REKEY_CODEC_SERVER_HOST}:${e.REKEY_CODEC_SERVER_PORT}`],
    maxBodyBytes: e.REKEY_CODEC_MAX_BODY_BYTES,
    log: (line) => console.error(line),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const opts = codecServerOptionsFromEnv(process.env);
    createCodecServer(opts).listen(opts.port, opts.host, () =>
      console.error(
        `codec server on ${opts.host}:${opts.port}: keys ${[opts.keyring.current, ...(opts.keyring.previous ?? [])].map((k) => k.id).join(', ')} (encrypts with ${opts.keyring.current.id}); hosts ${opts.allowedHosts.join(', ')}; origins ${opts.allowedOrigins.join(', ') || '(none)'}`,
      ),
    );
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
}
