import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../activities/audit.js';
import { createStreamAuditActivities, verifyAuditStream } from '../../activities/auditStream.js';

/** REKEY_AUDIT_LOG=stdout: each worker process writes its own chain; shipped logs are verified per writer. */
const event = (n: number): AuditEvent => ({
  eventId: `rotate-postgresql-cdc/s/run#${n}`,
  timestamp: new Date(Date.UTC(2026, 11, 7, 2, 0, n)).toISOString(),
  event_type: 'credential_rotation',
  component: 'debezium',
  user: 'ops',
  action: 'promote',
  old_user: 'debezium_a',
  new_user: 'debezium_b',
  status: 'success',
  validation_status: 'pending',
  rollback_available: true,
  workflow_id: 'rotate-postgresql-cdc/s',
  step: `step-${n}`,
});
const writer = (name: string) => {
  const out: string[] = [];
  return { out, ...createStreamAuditActivities({ writer: name, write: (l) => out.push(l) }) };
};
const shipped = (lines: string[]) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-audit-')), 'shipped.log');
  fs.writeFileSync(file, lines.join(''));
  return file;
};

describe('the audit trail on stdout', () => {
  it('two replicas, interleaved with other log lines and wrapped by the shipper: every chain verifies; a retried append is not written twice', async () => {
    const a = writer('rekey-worker-7d9-abc#1@2026-12-07T02:00:00Z');
    const b = writer('rekey-worker-7d9-xyz#1@2026-12-07T02:00:00Z');
    for (const n of [1, 2, 3]) await a.appendAudit(event(n));
    expect(await a.appendAudit(event(2))).toMatchObject({ duplicate: true });
    for (const n of [4, 5]) await b.appendAudit(event(n));
    await b.appendAudit(event(3)); // the same event retried on the other replica: its own chain records it
    const lines = [
      '{"level":30,"msg":"worker started"}\n',
      a.out[0]!,
      `2026-12-07T02:00:01.1Z stdout F ${b.out[0]!}`, // CRI format, as the kubelet writes it
      JSON.stringify({ log: a.out[1]!, kubernetes: { pod_name: 'rekey-worker-7d9-abc' } }) + '\n', // a shipper's envelope
      a.out[2]!,
      b.out[1]!,
      b.out[2]!,
    ];
    const report = await verifyAuditStream(shipped(lines));
    expect(report).toMatchObject({ ok: true, lines: 6, repeatedEventIds: 1 });
    expect(report.writers.map((w) => [w.lines, w.firstSeq, w.lastSeq])).toEqual([
      [3, 1, 3],
      [3, 1, 3],
    ]);
  });

  it('a changed line or a missing one breaks that writer’s chain, named by its seq', async () => {
    const a = writer('w1');
    for (const n of [1, 2, 3]) await a.appendAudit(event(n));
    const edited = a.out[1]!.replace('"status":"success"', '"status":"failed"');
    expect((await verifyAuditStream(shipped([a.out[0]!, edited, a.out[2]!]))).writers[0]).toMatchObject({
      problem: 'seq 2 was changed (its hash does not match its content)',
    });
    expect((await verifyAuditStream(shipped([a.out[0]!, a.out[2]!]))).writers[0]).toMatchObject({
      problem: 'seq 1 is followed by 3: line(s) missing',
    });
    // retention cut the first lines: reported by its first seq, not a break
    expect(await verifyAuditStream(shipped([a.out[1]!, a.out[2]!]))).toMatchObject({
      ok: true,
      writers: [{ firstSeq: 2, lastSeq: 3 }],
    });
  });
});
