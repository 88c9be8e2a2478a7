import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributes, type StackConfig } from './config.js';
import { isAlive, readPid, runInstaller, spawnDetached, stopPid, waitFor } from './proc.js';
import { installScript, logPath, type Service } from './service.js';
import { codecUrl } from './codec.js';

const binary = (cfg: StackConfig) => path.join(cfg.cache, `temporal-cli-${cfg.versions.temporalCli}`, 'temporal');

export const temporalAddress = (cfg: StackConfig) => `127.0.0.1:${cfg.ports.temporal}`;

/** Temporal CLI dev server: SQLite persistence in the stack's data folder, Web UI on. */
export const temporal: Service = {
  name: 'temporal',
  url: (cfg) => temporalAddress(cfg),
  ports: (cfg) => [cfg.ports.temporal, cfg.ports.temporalUi],
  extra: (cfg) => ({ ui: `http://127.0.0.1:${cfg.ports.temporalUi}`, namespace: 'default' }),

  async install(cfg) {
    await runInstaller('temporal', installScript('install-temporal.sh'), {
      REKEY_CACHE: cfg.cache,
      REKEY_TEMPORAL_CLI_VERSION: cfg.versions.temporalCli,
    });
  },

  async start(cfg) {
    fs.mkdirSync(cfg.dataDir, { recursive: true });
    const log = logPath(cfg, 'temporal');
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(cfg.ports.temporal),
      '--ui-port',
      String(cfg.ports.temporalUi),
      '--db-filename',
      path.join(cfg.dataDir, 'temporal.sqlite'),
      '--log-level',
      'warn',
      '--ui-ip',
      '127.0.0.1',
      '--ui-codec-endpoint',
      codecUrl(cfg),
      ...searchAttributes.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ];
    const pid = spawnDetached({ name: 'temporal', command: binary(cfg), args, runDir: cfg.runDir, logPath: log });
    await waitFor('temporal', () => temporal.healthy(cfg), { timeoutMs: 90_000, logPath: log, pid });
  },

  async healthy(cfg) {
    const connection = await Connection.connect({ address: temporalAddress(cfg), connectTimeout: 2000 });
    try {
      const res = await connection.healthService.check({});
      if (res.status !== 1 /* SERVING */) return false;
      const ui = await fetch(`http://127.0.0.1:${cfg.ports.temporalUi}/`, { signal: AbortSignal.timeout(2000) });
      return ui.ok;
    } finally {
      await connection.close();
    }
  },

  async stop(cfg) {
    await stopPid(cfg.runDir, 'temporal');
  },
};

export const temporalRunning = (cfg: StackConfig) => isAlive(readPid(cfg.runDir, 'temporal'));
