import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';

/** The runbook's audit trail format, plus where in which workflow it happened. */
export interface AuditEvent {
  /** Unique per workflow and event: a retried append is recognised and not written twice. */
  eventId: string;
  timestamp: string;
  event_type: 'credential_rotation' | 'compensation' | 'signal';
  component: string;
  user: string;
  action: string;
  old_user: string | null;
  new_user: string | null;
  status: 'started' | 'success' | 'failed' | 'rolled_back' | 'needs_attention' | 'skipped' | 'received';
  validation_status: 'pending' | 'passed' | 'failed' | 'not_applicable';
  rollback_available: boolean;
  workflow_id: string;
  step: string;
  detail?: string;
}

export interface AuditLine extends AuditEvent {
  prev_hash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);
const hashOf = (prev: string, event: AuditEvent) => createHash('sha256').update(prev).update(JSON.stringify(event)).digest('hex');

/**
 * Append-only JSONL audit log; every line carries the hash of the line before it, so an
 * edited or deleted line breaks the chain. Appends are serialised within this process.
 */
export function createAuditActivities(deps: { path: string }) {
  let queue: Promise<unknown> = Promise.resolve();

  async function append(event: AuditEvent): Promise<{ hash: string; duplicate: boolean }> {
    await fs.mkdir(path.dirname(deps.path), { recursive: true });
    const lines = await readLines(deps.path);
    const seen = lines.find((l) => l.eventId === event.eventId);
    if (seen) return { hash: seen.hash, duplicate: true };
    const prev = lines.at(-1)?.hash ?? GENESIS;
    const line: AuditLine = { ...event, prev_hash: prev, hash: hashOf(prev, event) };
    await fs.appendFile(deps.path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
    return { hash: line.hash, duplicate: false };
  }

  async function appendAudit(event: AuditEvent): Promise<{ hash: string; duplicate: boolean }> {
    const run = queue.then(() => append(event));
    queue = run.catch(() => undefined);
    return run;
  }

  return { appendAudit };
}

async function readLines(file: string): Promise<AuditLine[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditLine);
}

/** Checks every line's hash and link; returns the first broken line (1-based) if any. */
export async function verifyAuditChain(file: string): Promise<{ ok: boolean; lines: number; brokenAt?: number; reason?: string }> {
  const lines = await readLines(file);
  let prev = GENESIS;
  for (const [i, line] of lines.entries()) {
    const { prev_hash, hash, ...event } = line;
    if (prev_hash !== prev) return { ok: false, lines: lines.length, brokenAt: i + 1, reason: 'prev_hash does not match the previous line' };
    if (hashOf(prev, event) !== hash) return { ok: false, lines: lines.length, brokenAt: i + 1, reason: 'hash does not match the line content' };
    prev = hash;
  }
  return { ok: true, lines: lines.length };
}
