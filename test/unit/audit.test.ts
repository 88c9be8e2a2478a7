import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createAuditActivities, verifyAuditChain, type AuditEvent, type AuditLine } from '../../activities/audit.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmpLog = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-audit-')), 'audit', 'rotations.jsonl');
const readLog = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as AuditLine);

const event = (n: number | string, workflow = 'wf'): AuditEvent => ({
  eventId: `${workflow}#${n}`,
  timestamp: new Date(0).toISOString(),
  event_type: 'credential_rotation',
  component: 'postgresql_cdc',
  user: 'ops',
  action: 'stage_pending_credential',
  old_user: 'debezium_a',
  new_user: 'debezium_b',
  status: 'success',
  validation_status: 'not_applicable',
  rollback_available: true,
  workflow_id: workflow,
  step: 'stage',
});

/**
 * Starts one writer process (test/unit/auditWriter.ts) per spec, waits until every one has
 * loaded, then lets them all go at once, so their appends really overlap.
 */
async function runWriters(file: string, specs: { prefix: string; count: number; mode?: 'locked' | 'legacy' }[]) {
  const children = specs.map((s) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'test/unit/auditWriter.ts'),
        file,
        s.prefix,
        String(s.count),
        s.mode ?? 'locked',
      ],
      {
        cwd: repoRoot,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready\n') && resolve());
      child.once('exit', () => reject(new Error(`writer ${s.prefix} exited before it was ready: ${err}`)));
    });
    const done = new Promise<{ written: number; duplicates: number }>((resolve, reject) => {
      child.once('exit', (code) => {
        if (code !== 0) return reject(new Error(`writer ${s.prefix} exited with ${code}: ${err}`));
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { written: number; duplicates: number });
      });
    });
    done.catch(() => undefined); // reported through Promise.all below, or moot if never ready
    return { child, ready, done };
  });
  try {
    await Promise.all(children.map((c) => c.ready));
  } catch (err) {
    children.forEach((c) => c.child.kill());
    throw err;
  }
  for (const c of children) c.child.stdin.end('go\n');
  return Promise.all(children.map((c) => c.done));
}

describe('audit log', () => {
  it('chains lines by hash, ignores a retried append, and detects an edit', async () => {
    const file = tmpLog();
    const { appendAudit } = createAuditActivities({ path: file });
    const first = await appendAudit(event(1));
    await appendAudit(event(2));
    expect(await appendAudit(event(1))).toEqual({ hash: first.hash, duplicate: true });
    expect(await verifyAuditChain(file)).toMatchObject({
      ok: true,
      lines: 2,
      workflows: 1,
      duplicateEventIds: 0,
      head: readLog(file)[1]!.hash,
    });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    fs.writeFileSync(file, `${lines[0]!.replace('"ops"', '"mallory"')}\n${lines[1]}\n`);
    expect(await verifyAuditChain(file)).toMatchObject({
      ok: false,
      brokenAt: 1,
      reason: 'hash does not match the line content',
    });
  });

  it('keeps one chain when separate processes append to the same file at once', async () => {
    const file = tmpLog();
    const writers = ['p1', 'p2', 'p3'].map((prefix) => ({ prefix, count: 200 }));
    const results = await runWriters(file, writers);
    expect(results).toEqual(writers.map(() => ({ written: 200, duplicates: 0 })));

    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, lines: 600, workflows: 3, duplicateEventIds: 0 });
    const lines = readLog(file);
    const ids = lines.map((l) => l.eventId);
    expect(new Set(ids).size).toBe(600);
    expect([...ids].sort()).toEqual(
      writers.flatMap((w) => Array.from({ length: w.count }, (_, i) => `${w.prefix}#${i + 1}`)).sort(),
    );
    // every line links to the one before it: no two lines share a predecessor
    expect(new Set(lines.map((l) => l.prev_hash)).size).toBe(600);
    // and the processes really interleaved (otherwise this test would prove nothing)
    const switches = lines.filter((l, i) => i > 0 && l.workflow_id !== lines[i - 1]!.workflow_id).length;
    expect(switches).toBeGreaterThan(2);
  });

  it('catches the fork that the writer without a cross-process lock makes', async () => {
    const file = tmpLog();
    await runWriters(
      file,
      ['p1', 'p2', 'p3'].map((prefix) => ({ prefix, count: 200, mode: 'legacy' as const })),
    );
    const report = await verifyAuditChain(file);
    expect(report.ok).toBe(false);
    expect(report.reason).toBe('prev_hash does not match the previous line');
  });

  it('writes an eventId once even when several processes append it at the same time', async () => {
    const file = tmpLog();
    const results = await runWriters(
      file,
      ['shared', 'shared', 'shared'].map((prefix) => ({ prefix, count: 100 })),
    );
    expect(results.reduce((n, r) => n + r.written, 0)).toBe(100);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(200);
    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, lines: 100, duplicateEventIds: 0 });
    expect(new Set(readLog(file).map((l) => l.eventId)).size).toBe(100);
  });

  it('reports a torn last line, refuses to chain onto it, and goes on once it is cut back', async () => {
    const file = tmpLog();
    const { appendAudit } = createAuditActivities({ path: file });
    await appendAudit(event(1));
    await appendAudit(event(2));
    const intact = fs.statSync(file).size;
    const head = readLog(file)[1]!.hash;
    const third = JSON.stringify({ ...event(3), prev_hash: head, hash: 'x'.repeat(64) });
    fs.appendFileSync(file, third.slice(0, 40)); // a crash mid-write

    const report = await verifyAuditChain(file);
    expect(report).toMatchObject({ ok: false, lines: 3, brokenAt: 3, head });
    expect(report.reason).toMatch(/last line is incomplete/);
    expect(report.repair).toContain(`truncate -s ${intact}`);

    const refused = await appendAudit(event(4)).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: 'AuditLogTorn', nonRetryable: true });
    expect((refused as Error).message).toMatch(new RegExp(`incomplete line \\(line 3.*truncate -s ${intact}`));
    expect(fs.statSync(file).size).toBe(intact + 40); // nothing written after it

    fs.truncateSync(file, intact);
    expect(await appendAudit(event(4))).toMatchObject({ duplicate: false });
    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, lines: 3 });
  });

  it('refuses a line that is not an audit line, and verify names it', async () => {
    const file = tmpLog();
    const { appendAudit } = createAuditActivities({ path: file });
    await appendAudit(event(1));
    fs.appendFileSync(file, '{"half": \n');
    expect(await verifyAuditChain(file)).toMatchObject({
      ok: false,
      brokenAt: 2,
      reason: expect.stringMatching(/not a valid audit line/),
    });
    await expect(appendAudit(event(2))).rejects.toMatchObject({ type: 'AuditLogCorrupt', nonRetryable: true });
  });

  it('waits for a held lock only for a bounded time, retryably, and takes over a stale one', async () => {
    const file = tmpLog();
    fs.mkdirSync(`${file}.lock`, { recursive: true }); // another writer holds it, and is alive (fresh mtime)
    const { appendAudit } = createAuditActivities({ path: file, lockTimeoutMs: 300 });
    const started = Date.now();
    await expect(appendAudit(event(1))).rejects.toMatchObject({ type: 'AuditLogLocked', nonRetryable: false });
    expect(Date.now() - started).toBeLessThan(2_000);

    const old = new Date(Date.now() - 60_000); // the holder died a minute ago
    fs.utimesSync(`${file}.lock`, old, old);
    expect(await appendAudit(event(1))).toMatchObject({ duplicate: false });
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, lines: 1 });
  });

  it('starts a new chain when the log is rotated away, and reads appends made by others', async () => {
    const file = tmpLog();
    const a = createAuditActivities({ path: file });
    await a.appendAudit(event(1));
    fs.renameSync(file, `${file}.1`);
    await a.appendAudit(event(2));
    expect(readLog(file)[0]!.prev_hash).toBe('0'.repeat(64));
    // another process appends; this one must chain onto its line, and know its eventId
    await runWriters(file, [{ prefix: 'other', count: 3 }]);
    await a.appendAudit(event(3));
    expect(await a.appendAudit(event(1, 'other'))).toMatchObject({ duplicate: true, hash: readLog(file)[1]!.hash });
    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, lines: 5 });
    expect(await verifyAuditChain(`${file}.1`)).toMatchObject({ ok: true, lines: 1 });
  });
});
