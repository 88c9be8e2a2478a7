import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/activity';

/** The runbook's audit trail format, plus where in which workflow it happened. */
export interface AuditEvent {
  /** Unique per workflow run and event: a retried append is recognised and not written twice. */
  eventId: string;
  timestamp: string;
  event_type: 'credential_rotation' | 'compensation' | 'signal' | 'emergency';
  component: string;
  user: string;
  action: string;
  old_user: string | null;
  new_user: string | null;
  status: 'started' | 'success' | 'failed' | 'rolled_back' | 'needs_attention' | 'skipped' | 'received';
  validation_status: 'pending' | 'passed' | 'failed' | 'not_applicable';
  rollback_available: boolean;
  workflow_id: string;
  /** The workflow run the event belongs to (a retry or reset of the same workflow id is another run). */
  run_id?: string;
  step: string;
  detail?: string;
}

export interface AuditLine extends AuditEvent {
  prev_hash: string;
  hash: string;
}

export interface AuditDeps {
  path: string;
  /** How long an append waits for another writer's lock before failing (retryably). Default 20 s. */
  lockTimeoutMs?: number;
  /** A lock whose holder has not refreshed it for this long is taken over (holder crashed). Default 10 s, at least 2 s. */
  staleLockMs?: number;
}

/** The prev_hash of a chain's first line. */
export const GENESIS = '0'.repeat(64);
const hashOf = (prev: string, event: AuditEvent) =>
  createHash('sha256').update(prev).update(JSON.stringify(event)).digest('hex');

// proper-lockfile ships no types (and @types/ would be a second dependency): the part used here.
interface ProperLockfile {
  lock(
    file: string,
    options: { realpath: boolean; stale: number; retries: number; onCompromised: (err: Error) => void },
  ): Promise<() => Promise<void>>;
}
const lockfile = createRequire(import.meta.url)('proper-lockfile') as ProperLockfile;

/**
 * What this process knows about a log file, so that an append reads only the bytes other
 * writers added since this process last held the lock, not the whole file. Valid while the
 * file is the same inode and has not shrunk; otherwise it is rebuilt from the start.
 */
interface ChainState {
  dev: number;
  ino: number;
  /** End of the last complete line read. */
  offset: number;
  /** Physical lines in [0, offset). */
  lineNo: number;
  /** Hash of the last line: the next line's prev_hash. */
  head: string;
  /** eventId → hash of the line that recorded it. */
  ids: Map<string, string>;
}

// Shared by every activity object in this process that writes the same file.
const states = new Map<string, ChainState>();
const queues = new Map<string, Promise<unknown>>();

/**
 * Append-only JSONL audit log; every line carries the hash of the line before it, so an
 * edited or deleted line breaks the chain.
 *
 * An append is a critical section across processes (worker replicas on one volume): under an
 * exclusive lock (`<file>.lock`, a directory made with mkdir by proper-lockfile, which is atomic
 * on local and network file systems and is taken over once its holder stops refreshing it) it
 * reads what was appended since this process last looked, skips an eventId already recorded,
 * and writes the full line with one append and an fdatasync. Within one process appends to a
 * file are also queued, so they do not contend for the lock with each other.
 */
export function createAuditActivities(deps: AuditDeps) {
  const file = path.resolve(deps.path);
  const lockTimeoutMs = deps.lockTimeoutMs ?? 20_000;
  const staleLockMs = Math.max(deps.staleLockMs ?? 10_000, 2_000);

  async function appendAudit(event: AuditEvent): Promise<{ hash: string; duplicate: boolean }> {
    const run = (queues.get(file) ?? Promise.resolve()).then(() =>
      appendLocked(file, event, lockTimeoutMs, staleLockMs),
    );
    queues.set(
      file,
      run.catch(() => undefined),
    );
    return run;
  }

  return { appendAudit };
}

async function appendLocked(
  file: string,
  event: AuditEvent,
  lockTimeoutMs: number,
  staleLockMs: number,
): Promise<{ hash: string; duplicate: boolean }> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const lock = await acquireLock(file, lockTimeoutMs, staleLockMs);
  try {
    const fh = await fs.open(file, 'a+', 0o600);
    try {
      const stat = await fh.stat();
      const state = await catchUp(file, fh, stat);
      const seen = state.ids.get(event.eventId);
      if (seen) return { hash: seen, duplicate: true };

      const hash = hashOf(state.head, event);
      const line: AuditLine = { ...event, prev_hash: state.head, hash };
      const bytes = Buffer.from(`${JSON.stringify(line)}\n`, 'utf8');
      const compromised = lock.compromised();
      if (compromised)
        throw ApplicationFailure.retryable(
          `lost the audit log lock before writing: ${compromised.message}`,
          'AuditLogLockLost',
        );
      try {
        await fh.appendFile(bytes); // O_APPEND; writes the whole buffer
        await fh.datasync();
      } catch (err) {
        // Still holding the lock: undo a partial write rather than leave a torn line behind.
        await fh.truncate(stat.size).catch(() => undefined);
        throw err;
      }
      if (stat.size === 0) await syncDir(path.dirname(file));
      state.offset = stat.size + bytes.length;
      state.lineNo += 1;
      state.head = hash;
      state.ids.set(event.eventId, hash);
      return { hash, duplicate: false };
    } finally {
      await fh.close();
    }
  } finally {
    await lock.release();
  }
}

/** Brings this process's view of the file up to its end; refuses a torn or unreadable tail. */
async function catchUp(
  file: string,
  fh: FileHandle,
  stat: { dev: number; ino: number; size: number },
): Promise<ChainState> {
  let state = states.get(file);
  if (!state || state.dev !== stat.dev || state.ino !== stat.ino || stat.size < state.offset) {
    state = { dev: stat.dev, ino: stat.ino, offset: 0, lineNo: 0, head: GENESIS, ids: new Map() };
    states.set(file, state);
  }
  if (stat.size === state.offset) return state;

  let { lineNo, head } = state;
  const ids = state.ids;
  const { end } = await scanLines(fh, state.offset, stat.size, (text) => {
    lineNo += 1;
    if (!text.trim()) return;
    const line = parseLine(text);
    if (!line) {
      throw ApplicationFailure.nonRetryable(
        `audit log ${file}: line ${lineNo} is not a valid audit line; refusing to chain onto a damaged log. ` +
          `Run \`npm run audit:verify -- ${file}\`, keep a copy of the file, and restore the line from a backup.`,
        'AuditLogCorrupt',
      );
    }
    if (!ids.has(line.eventId)) ids.set(line.eventId, line.hash);
    head = line.hash;
  });
  state.offset = end;
  state.lineNo = lineNo;
  state.head = head;
  if (end < stat.size) {
    throw ApplicationFailure.nonRetryable(
      `audit log ${file} ends in an incomplete line (line ${lineNo + 1}, bytes ${end}–${stat.size}): a write was interrupted. ` +
        `Refusing to chain onto it. ${tornRepair(file, end)}`,
      'AuditLogTorn',
    );
  }
  return state;
}

const tornRepair = (file: string, end: number) =>
  `Repair: with no worker writing, keep a copy of the file, then cut it back to its last complete line ` +
  `(\`truncate -s ${end} '${file}'\`) and check it with \`npm run audit:verify -- '${file}'\`; the cut event is lost ` +
  `from the log (the workflow history still has it).`;

function parseLine(text: string): AuditLine | undefined {
  try {
    const line = JSON.parse(text) as Partial<AuditLine> | null;
    if (
      line &&
      typeof line === 'object' &&
      typeof line.eventId === 'string' &&
      typeof line.hash === 'string' &&
      typeof line.prev_hash === 'string'
    ) {
      return line as AuditLine;
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * Calls onLine for each complete line (without its '\n') in [from, size), reading in chunks.
 * Returns the end of the last complete line: less than size when the file ends mid-line.
 */
async function scanLines(
  fh: FileHandle,
  from: number,
  size: number,
  onLine: (text: string) => void,
): Promise<{ end: number }> {
  const chunk = Buffer.alloc(64 * 1024);
  let carry = Buffer.alloc(0);
  let end = from;
  let pos = from;
  while (pos < size) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      onLine(buf.toString('utf8', start, nl));
      end += nl + 1 - start;
      start = nl + 1;
    }
    carry = Buffer.from(buf.subarray(start));
  }
  return { end };
}

async function acquireLock(
  file: string,
  timeoutMs: number,
  staleMs: number,
): Promise<{ release: () => Promise<void>; compromised: () => Error | undefined }> {
  const deadline = Date.now() + timeoutMs;
  let backoff = 4;
  let compromised: Error | undefined;
  for (;;) {
    try {
      const release = await lockfile.lock(file, {
        realpath: false,
        stale: staleMs,
        retries: 0, // retried here, against a deadline
        // The default throws from a timer and would crash the worker.
        onCompromised: (err) => {
          compromised = err;
        },
      });
      return { release: () => release().catch(() => undefined), compromised: () => compromised };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw ApplicationFailure.retryable(
          `audit log ${file} stayed locked by another writer for ${timeoutMs} ms (${file}.lock); a lock whose holder died is taken over after ${staleMs} ms`,
          'AuditLogLocked',
        );
      }
      await sleep(Math.min(left, backoff / 2 + Math.random() * backoff));
      backoff = Math.min(backoff * 2, 200);
    }
  }
}

/** Makes a newly created file's directory entry durable; best effort (not every platform allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // ignore
  }
}

export interface AuditChainReport {
  ok: boolean;
  /** Lines in the file (a torn last line included). */
  lines: number;
  /** Hash of the last intact line (the genesis hash for an empty log): record it elsewhere to detect a cut tail. */
  head: string;
  /** First broken line, 1-based. */
  brokenAt?: number;
  reason?: string;
  /** What to do about it, where there is something safe to say. */
  repair?: string;
  /** Lines whose eventId an earlier line already has (should be none: appends skip them). */
  duplicateEventIds: number;
  workflows: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
}

/** Checks every line's hash and link, and that the file does not end mid-line; reports the first broken line (1-based). */
export async function verifyAuditChain(file: string): Promise<AuditChainReport> {
  for (let attempt = 1; ; attempt++) {
    const report = await verifyOnce(file);
    if (!report.torn || attempt === 5) return report.result;
    // A writer may have been mid-append: look again if the file has grown since.
    const size = await fs.stat(file).then(
      (s) => s.size,
      () => -1,
    );
    if (size <= report.torn.size) return report.result;
  }
}

async function verifyOnce(file: string): Promise<{ result: AuditChainReport; torn?: { size: number } }> {
  let fh: FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { result: { ok: true, lines: 0, head: GENESIS, duplicateEventIds: 0, workflows: 0 } };
    throw err;
  }
  try {
    const { size } = await fh.stat();
    let lineNo = 0;
    let prev = GENESIS;
    let broken: { brokenAt: number; reason: string } | undefined;
    const ids = new Set<string>();
    const workflows = new Set<string>();
    let duplicateEventIds = 0;
    let firstTimestamp: string | undefined;
    let lastTimestamp: string | undefined;
    const { end } = await scanLines(fh, 0, size, (text) => {
      lineNo += 1;
      if (broken || !text.trim()) return;
      const line = parseLine(text);
      if (!line) {
        broken = { brokenAt: lineNo, reason: 'not a valid audit line (JSON with eventId, prev_hash and hash)' };
        return;
      }
      const { prev_hash, hash, ...event } = line;
      if (prev_hash !== prev) broken = { brokenAt: lineNo, reason: 'prev_hash does not match the previous line' };
      else if (hashOf(prev, event) !== hash)
        broken = { brokenAt: lineNo, reason: 'hash does not match the line content' };
      if (broken) return;
      prev = hash;
      if (ids.has(line.eventId)) duplicateEventIds += 1;
      ids.add(line.eventId);
      workflows.add(line.workflow_id);
      firstTimestamp ??= line.timestamp;
      lastTimestamp = line.timestamp;
    });
    const torn = end < size;
    const lines = lineNo + (torn ? 1 : 0);
    const stats = { head: prev, duplicateEventIds, workflows: workflows.size, firstTimestamp, lastTimestamp };
    if (broken) return { result: { ok: false, lines, ...broken, ...stats } };
    if (torn) {
      return {
        torn: { size },
        result: {
          ok: false,
          lines,
          brokenAt: lines,
          reason: `the last line is incomplete (bytes ${end}–${size} have no line end): a write was interrupted`,
          repair: tornRepair(file, end),
          ...stats,
        },
      };
    }
    return { result: { ok: true, lines, ...stats } };
  } finally {
    await fh.close();
  }
}
