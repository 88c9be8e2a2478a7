import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditActivities, verifyAuditChain, type AuditEvent } from '../../activities/audit.js';

const event = (n: number): AuditEvent => ({
  eventId: `wf#${n}`,
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
  workflow_id: 'wf',
  step: 'stage',
});

describe('audit log', () => {
  it('chains lines by hash, ignores a retried append, and detects an edit', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-audit-')), 'audit.jsonl');
    const { appendAudit } = createAuditActivities({ path: file });
    await appendAudit(event(1));
    await appendAudit(event(2));
    expect((await appendAudit(event(2))).duplicate).toBe(true);
    expect(await verifyAuditChain(file)).toEqual({ ok: true, lines: 2 });
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    fs.writeFileSync(file, `${lines[0]!.replace('"ops"', '"mallory"')}\n${lines[1]}\n`);
    expect(await verifyAuditChain(file)).toMatchObject({ ok: false, brokenAt: 1 });
  });
});
