/**
 * A separate writer process for the audit tests (run with `node --import tsx`): appends
 * `count` events to one log, all at once, after the parent says "go" on stdin, and prints
 * how many it wrote and how many it found already there.
 *
 *   auditWriter.ts <file> <idPrefix> <count> [locked|legacy]
 *
 * `legacy` is the implementation before the cross-process lock (read the log, append, queued
 * only within the process), kept here so the tests can show they catch a forked chain.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createAuditActivities, type AuditEvent, type AuditLine } from '../../activities/audit.js';

const [file, prefix, countArg, mode = 'locked'] = process.argv.slice(2);
if (!file || !prefix || !countArg) throw new Error('usage: auditWriter.ts <file> <idPrefix> <count> [locked|legacy]');
const count = Number(countArg);

const auditEvent = (eventId: string, workflowId: string): AuditEvent => ({
  eventId,
  timestamp: new Date().toISOString(),
  event_type: 'credential_rotation',
  component: 'postgresql_cdc',
  user: 'ops',
  action: 'stage_pending_credential',
  old_user: 'debezium_a',
  new_user: 'debezium_b',
  status: 'success',
  validation_status: 'not_applicable',
  rollback_available: true,
  workflow_id: workflowId,
  run_id: `run-${process.pid}`,
  step: 'stage',
});

function legacyAppender(target: string) {
  let queue: Promise<unknown> = Promise.resolve();
  async function append(event: AuditEvent) {
    await fs.mkdir(path.dirname(target), { recursive: true });
    const text = await fs.readFile(target, 'utf8').catch(() => '');
    const lines = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as AuditLine);
    const seen = lines.find((l) => l.eventId === event.eventId);
    if (seen) return { hash: seen.hash, duplicate: true };
    const prev = lines.at(-1)?.hash ?? '0'.repeat(64);
    const hash = createHash('sha256').update(prev).update(JSON.stringify(event)).digest('hex');
    await fs.appendFile(target, `${JSON.stringify({ ...event, prev_hash: prev, hash })}\n`);
    return { hash, duplicate: false };
  }
  return {
    appendAudit(event: AuditEvent) {
      // like an activity retry: a reader can see another process's line half-written
      const attempt = async (left: number): Promise<{ hash: string; duplicate: boolean }> =>
        append(event).catch(async (err: unknown) => {
          if (left === 0) throw err;
          await new Promise((r) => setTimeout(r, 5));
          return attempt(left - 1);
        });
      const run = queue.then(() => attempt(20));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

const { appendAudit } = mode === 'legacy' ? legacyAppender(file) : createAuditActivities({ path: file });

process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.pause();

const results = await Promise.all(
  Array.from({ length: count }, (_, i) => appendAudit(auditEvent(`${prefix}#${i + 1}`, prefix))),
);
process.stdout.write(
  `${JSON.stringify({ written: results.filter((r) => !r.duplicate).length, duplicates: results.filter((r) => r.duplicate).length })}\n`,
);
