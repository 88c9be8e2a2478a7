import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { type AuditEvent, GENESIS } from './audit.js';

/**
 * The audit trail as lines on the worker's stdout (REKEY_AUDIT_LOG=stdout), for the
 * platform's log shipper: no volume shared between replicas. Each writer (a worker process: its
 * pod name and start time) keeps its own hash chain, numbered by `seq`, so replicas never fork
 * one chain; `rekey audit verify` reads the shipped lines back and checks every writer's chain.
 * A line is `{"rekey_audit": {…event, writer, seq, prev_hash, hash}}`.
 */
export interface StreamedAuditLine extends AuditEvent {
  writer: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

const hashOf = (prev: string, body: Omit<StreamedAuditLine, 'prev_hash' | 'hash'>) =>
  createHash('sha256').update(prev).update(JSON.stringify(body)).digest('hex');
/** eventIds remembered per writer, for a retried append (the same process) to be recognised. */
const REMEMBERED_IDS = 10_000;

export function createStreamAuditActivities(deps: { writer: string; write?: (line: string) => void }) {
  const write = deps.write ?? ((line: string) => process.stdout.write(line));
  let head = GENESIS;
  let seq = 0;
  const ids = new Map<string, string>();

  async function appendAudit(event: AuditEvent): Promise<{ hash: string; duplicate: boolean }> {
    const seen = ids.get(event.eventId);
    if (seen) return { hash: seen, duplicate: true };
    const body = { ...event, writer: deps.writer, seq: seq + 1 };
    const hash = hashOf(head, body);
    // one write of one whole line: the shipper never sees half of it
    write(`${JSON.stringify({ rekey_audit: { ...body, prev_hash: head, hash } })}\n`);
    seq += 1;
    head = hash;
    ids.set(event.eventId, hash);
    if (ids.size > REMEMBERED_IDS) ids.delete(ids.keys().next().value!);
    return { hash, duplicate: false };
  }

  return { appendAudit };
}

/** An audit line out of a shipped log line: raw JSON, a CRI log line (`<time> stdout F <json>`), or an envelope's `log`/`message` field. */
export function auditLineOf(text: string): StreamedAuditLine | undefined {
  const json = (s: string): unknown => {
    try {
      return JSON.parse(s);
    } catch {
      return undefined;
    }
  };
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  const o = json(text.slice(start)) as { rekey_audit?: StreamedAuditLine; log?: string; message?: string } | undefined;
  if (o?.rekey_audit) return o.rekey_audit;
  const inner = o?.log ?? o?.message;
  return typeof inner === 'string' && inner !== text ? auditLineOf(inner) : undefined;
}

export interface StreamChainReport {
  ok: boolean;
  lines: number;
  writers: Array<{ writer: string; lines: number; firstSeq: number; lastSeq: number; head: string; problem?: string }>;
  /** Events recorded by more than one writer (an activity retried on another pod): expected, not a break. */
  repeatedEventIds: number;
}

/**
 * Checks each writer's chain in shipped logs: consecutive `seq`, every `prev_hash` the hash of
 * the line before, every hash the hash of its line. A writer whose first line is not seq 1 was
 * cut by retention (reported, not a break); a gap or a changed line is a break.
 */
export async function verifyAuditStream(file: string): Promise<StreamChainReport> {
  const byWriter = new Map<string, StreamedAuditLine[]>();
  let lines = 0;
  for (const text of (await fs.readFile(file, 'utf8')).split('\n')) {
    const line = auditLineOf(text);
    if (!line) continue;
    lines += 1;
    const chain = byWriter.get(line.writer) ?? [];
    chain.push(line);
    byWriter.set(line.writer, chain);
  }
  const writers = [...byWriter.entries()].map(([writer, ls]) =>
    checkWriter(
      writer,
      ls.sort((a, b) => a.seq - b.seq),
    ),
  );
  const events = [...byWriter.values()].flat().map((l) => l.eventId);
  return {
    ok: writers.every((w) => !w.problem),
    lines,
    writers,
    repeatedEventIds: events.length - new Set(events).size,
  };
}

function checkWriter(writer: string, ls: StreamedAuditLine[]): StreamChainReport['writers'][number] {
  const summary = { writer, lines: ls.length, firstSeq: ls[0]!.seq, lastSeq: ls.at(-1)!.seq, head: ls.at(-1)!.hash };
  for (const [i, l] of ls.entries()) {
    const { prev_hash: prev, hash, ...body } = l;
    if (i > 0 && l.seq !== ls[i - 1]!.seq + 1)
      return { ...summary, problem: `seq ${ls[i - 1]!.seq} is followed by ${l.seq}: line(s) missing` };
    if (i > 0 && prev !== ls[i - 1]!.hash)
      return { ...summary, problem: `seq ${l.seq} does not link to seq ${ls[i - 1]!.seq}` };
    if (i === 0 && l.seq === 1 && prev !== GENESIS)
      return { ...summary, problem: 'seq 1 does not start from the genesis hash' };
    if (hashOf(prev, body) !== hash)
      return { ...summary, problem: `seq ${l.seq} was changed (its hash does not match its content)` };
  }
  return summary;
}
