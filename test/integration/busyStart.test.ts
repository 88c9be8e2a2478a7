import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { down, up } from '../../scripts/stack/stack.js';
import { freePort } from '../freePort.js';

const hogs: ChildProcess[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-busy-stack-'));
fs.chmodSync(dir, 0o755); // initdb runs as the postgres user and reads its password file under it (mkdtemp makes 0700)
afterAll(() => {
  for (const h of hogs) h.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The first start on a busy machine (issue: `npm ci && npm run demo` failed beside other builds
 * because the dev server was still creating its SQLite schema at 90 s). A second stack in a
 * fresh folder — a new SQLite file, a new PostgreSQL cluster — starts with two CPU-bound
 * processes beside it, on a 2-core machine.
 */
describe('a first start beside two CPU hogs', () => {
  it('brings Temporal (new SQLite schema), the codec server and PostgreSQL (initdb) up, healthy', async () => {
    const env = {
      REKEY_STACK_DIR: dir,
      REKEY_TEMPORAL_PORT: String(await freePort()),
      REKEY_TEMPORAL_UI_PORT: String(await freePort()),
      REKEY_CODEC_SERVER_PORT: String(await freePort()),
      REKEY_POSTGRES_PORT: String(await freePort()),
    };
    const cfg = loadStackConfig({ ...process.env, ...env });
    for (let i = 0; i < 2; i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    const lines: string[] = [];
    try {
      const services = await up(cfg, (l) => lines.push(l), { only: ['codec-server', 'temporal', 'postgres'] });
      expect(services.map((s) => [s.name, s.healthy])).toEqual([
        ['codec-server', true],
        ['temporal', true],
        ['postgres', true],
      ]);
      expect(lines.filter((l) => /healthy at/.test(l))).toHaveLength(3);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
      await down(cfg, { purge: true }, () => undefined);
    }
  }, 900_000);
});
