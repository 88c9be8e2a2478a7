import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { repoRoot, type StackConfig } from './config.js';
import { spawnDetached, stopPid, waitFor } from './proc.js';
import { logPath, type Service } from './service.js';

export const codecKeyFile = (cfg: StackConfig) => path.join(cfg.dir, 'codec.key');
export const codecTokenFile = (cfg: StackConfig) => path.join(cfg.dir, 'codec.token');
export const codecUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.codec}`;

/** The payload key of the embedded stack: generated once, mode 0600. */
export function ensureCodecKey(cfg: StackConfig): string {
  const file = codecKeyFile(cfg);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cfg.dir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return file;
}

/** The codec server's bearer token on the embedded stack (`--codec-auth "Bearer $(cat .rekey/codec.token)"`): generated once, mode 0600. */
export function ensureCodecToken(cfg: StackConfig): string {
  const file = codecTokenFile(cfg);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cfg.dir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return file;
}

const readToken = (cfg: StackConfig) => {
  try {
    return fs.readFileSync(codecTokenFile(cfg), 'utf8').trim();
  } catch {
    return undefined;
  }
};

/**
 * Codec endpoint for the Temporal CLI (bearer token from .rekey/codec.token) and the Web UI
 * (the dev UI cannot send a token: its loopback origin is trusted instead).
 */
export const codecServer: Service = {
  name: 'codec-server',
  url: (cfg) => codecUrl(cfg),
  ports: (cfg) => [cfg.ports.codec],
  async install() {},
  async start(cfg) {
    const log = logPath(cfg, 'codec-server');
    const ui = cfg.ports.temporalUi;
    const pid = spawnDetached({
      name: 'codec-server',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(repoRoot, 'workers/codecServer.ts')],
      cwd: repoRoot,
      env: {
        REKEY_CODEC_KEY_FILE: process.env.REKEY_CODEC_KEY ? undefined : ensureCodecKey(cfg),
        REKEY_CODEC_SERVER_PORT: String(cfg.ports.codec),
        REKEY_CODEC_AUTH_TOKEN: undefined,
        REKEY_CODEC_AUTH_TOKEN_FILE: ensureCodecToken(cfg),
        REKEY_CODEC_SERVER_HOST: '127.0.0.1',
        REKEY_CODEC_ALLOWED_HOSTS: undefined,
        REKEY_CODEC_ALLOWED_ORIGINS: `http://127.0.0.1:${ui},http://localhost:${ui}`,
        REKEY_CODEC_TRUSTED_UI_ORIGINS: `http://127.0.0.1:${ui},http://localhost:${ui}`,
      },
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('codec-server', () => codecServer.healthy(cfg), { timeoutMs: 30_000, logPath: log, pid });
  },
  async healthy(cfg) {
    const token = readToken(cfg);
    if (!token) return false;
    const res = await fetch(`${codecUrl(cfg)}/decode`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  },
  async stop(cfg) {
    await stopPid(cfg.runDir, 'codec-server');
  },
};
