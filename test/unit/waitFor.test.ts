import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnDetached, stopPid, waitFor } from '../../scripts/stack/proc.js';

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-wait-'));
const logPath = path.join(runDir, 'svc.log');
const busy = 'let x = 0; for (;;) { for (let i = 0; i < 1e6; i++) x += i; }';

function startService(script: string) {
  return spawnDetached({ name: 'svc', command: process.execPath, args: ['-e', script], runDir, logPath });
}
afterEach(() => stopPid(runDir, 'svc', 1000));

const fast = { pollMs: 50, progressEveryMs: 300 };
const after = (ms: number) => {
  const t = Date.now() + ms;
  return async () => Date.now() >= t;
};

describe('waitFor: a service start waits for the right thing', () => {
  it('keeps waiting past its stall bound while the process uses CPU (a busy machine), reporting what it waits for', async () => {
    const pid = startService(busy);
    const lines: string[] = [];
    const t0 = Date.now();
    await waitFor('svc', after(2500), {
      ...fast,
      timeoutMs: 1000,
      pid,
      logPath,
      what: 'ready',
      report: (l) => lines.push(l),
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2400);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines[0]).toMatch(/^\[svc\] waiting for ready: \d+ s \(log quiet, cpu \+\d+\.\d s\)/);
  });

  it('keeps waiting while the log grows, even without a process to watch', async () => {
    let n = 0;
    const timer = setInterval(() => fs.appendFileSync(logPath, `line ${++n}\n`), 100);
    try {
      await waitFor('svc', after(2000), { ...fast, timeoutMs: 800, logPath, report: () => undefined });
    } finally {
      clearInterval(timer);
    }
  });

  it('fails a stalled process (alive, log and CPU idle) after its stall bound, naming the service and its log', async () => {
    const pid = startService('setInterval(() => {}, 1000)');
    const t0 = Date.now();
    await expect(
      waitFor('svc', async () => false, { ...fast, timeoutMs: 1000, pid, logPath, report: () => undefined }),
    ).rejects.toThrow(/\[svc\] not healthy: no progress for 1 s \(log and CPU idle\)[\s\S]*log: .*svc\.log/);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('fails at once when the process dies, with the end of its log', async () => {
    const pid = startService('console.log("bind: address already in use"); process.exit(3)');
    const t0 = Date.now();
    await expect(
      waitFor('svc', async () => false, { ...fast, timeoutMs: 60_000, pid, logPath, report: () => undefined }),
    ).rejects.toThrow(/process exited before it became healthy[\s\S]*address already in use/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('stops at its longest bound even while progress goes on', async () => {
    const pid = startService(busy);
    await expect(
      waitFor('svc', async () => false, {
        ...fast,
        timeoutMs: 1000,
        maxMs: 2000,
        pid,
        logPath,
        report: () => undefined,
      }),
    ).rejects.toThrow(/still not healthy after 2 s, the longest a start may take/);
  });
});
