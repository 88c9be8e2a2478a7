import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** A failure the operator can act on: names the service, what to do, and where its log is. */
export class StackError extends Error {
  constructor(
    readonly service: string,
    message: string,
    readonly logPath?: string,
  ) {
    super(`[${service}] ${message}${logPath ? `\n  log: ${logPath}` : ''}`);
    this.name = 'StackError';
  }
}

export function pidFile(runDir: string, name: string): string {
  return path.join(runDir, `${name}.pid`);
}

export function readPid(runDir: string, name: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(runDir, name), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface SpawnSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  runDir: string;
  logPath: string;
}

/** Starts a long-running service detached from this process, output appended to its log. */
export function spawnDetached(spec: SpawnSpec): number {
  fs.mkdirSync(path.dirname(spec.logPath), { recursive: true });
  fs.mkdirSync(spec.runDir, { recursive: true });
  const out = fs.openSync(spec.logPath, 'a');
  fs.writeSync(out, `\n--- ${new Date().toISOString()} starting ${spec.command} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (!child.pid) throw new StackError(spec.name, `could not start ${spec.command}`, spec.logPath);
  child.unref();
  fs.writeFileSync(pidFile(spec.runDir, spec.name), String(child.pid));
  return child.pid;
}

/** SIGTERM the process group, then SIGKILL after the grace period. */
export async function stopPid(runDir: string, name: string, graceMs = 20_000): Promise<boolean> {
  const pid = readPid(runDir, name);
  if (!isAlive(pid)) {
    fs.rmSync(pidFile(runDir, name), { force: true });
    return false;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid!, sig);
    } catch {
      try {
        process.kill(pid!, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) signal('SIGKILL');
  fs.rmSync(pidFile(runDir, name), { force: true });
  return true;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Fails when this long passes with neither success nor progress (the log grew, the process used CPU). */
  timeoutMs: number;
  /** Bound however much progress is seen: minutes, long enough for a loaded 2-core machine. Default max(4 × timeoutMs, 10 min). */
  maxMs?: number;
  logPath?: string;
  /** The service's process (group): its death fails the wait at once, its CPU time counts as progress. */
  pid?: number;
  what?: string;
  /** Where the ~15 s progress lines go (default: stderr). */
  report?: (line: string) => void;
  /** Poll interval (default 500 ms); progress is sampled every `progressEveryMs` (default 15 s). */
  pollMs?: number;
  progressEveryMs?: number;
}

/** CPU ticks used so far by every live process of the group `pgid` (a detached service leads its own group). */
export function groupCpuTicks(pgid: number): number | undefined {
  let total = 0;
  let seen = false;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined; // not Linux: progress is the log alone
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgid) continue;
      total += Number(f[11]) + Number(f[12]);
      seen = true;
    } catch {
      /* exited while we looked */
    }
  }
  return seen ? total : undefined;
}

const fileSize = (file: string | undefined) => {
  try {
    return file ? fs.statSync(file).size : 0;
  } catch {
    return 0;
  }
};

/**
 * Polls `check` until it returns true. The wait goes on while the service makes progress
 * (its log grows or its process group uses CPU) up to `maxMs`, and fails when it stalls for
 * `timeoutMs`; a process that died fails it at once. Every ~15 s it reports what it waits
 * for, so a slow first start on a busy machine reads as progress, not as a hang.
 */
export async function waitFor(service: string, check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const what = opts.what ?? 'healthy';
  const started = Date.now();
  const hardDeadline = started + (opts.maxMs ?? Math.max(4 * opts.timeoutMs, 600_000));
  const report = opts.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  const progressEvery = opts.progressEveryMs ?? 15_000;
  let lastProgressAt = started;
  let sample = { at: started, log: fileSize(opts.logPath), cpu: opts.pid ? groupCpuTicks(opts.pid) : undefined };
  let lastError = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (opts.pid !== undefined && !isAlive(opts.pid)) {
      throw new StackError(
        service,
        `process exited before it became ${what}; last lines of its log:\n${tail(opts.logPath)}`,
        opts.logPath,
      );
    }
    const now = Date.now();
    if (now - sample.at >= progressEvery) {
      const next = { at: now, log: fileSize(opts.logPath), cpu: opts.pid ? groupCpuTicks(opts.pid) : undefined };
      const logGrew = next.log !== sample.log;
      const cpuUsed = next.cpu !== undefined && sample.cpu !== undefined ? (next.cpu - sample.cpu) / 100 : 0;
      if (logGrew || cpuUsed > 0.05) lastProgressAt = now;
      const signs = [
        logGrew ? `log +${next.log - sample.log} B` : 'log quiet',
        opts.pid ? `cpu +${cpuUsed.toFixed(1)} s` : '',
      ]
        .filter(Boolean)
        .join(', ');
      report(
        `[${service}] waiting for ${what}: ${Math.round((now - started) / 1000)} s (${signs})${lastError ? `; last answer: ${lastError}` : ''}`,
      );
      sample = next;
    }
    const stalled = now - lastProgressAt >= opts.timeoutMs;
    if (stalled || now >= hardDeadline) {
      const why = stalled
        ? `no progress for ${Math.round(opts.timeoutMs / 1000)} s (log and CPU idle)`
        : `still not ${what} after ${Math.round((now - started) / 1000)} s, the longest a start may take`;
      throw new StackError(
        service,
        `not ${what}: ${why}${lastError ? ` (last error: ${lastError})` : ''}`,
        opts.logPath,
      );
    }
    await sleep(opts.pollMs ?? 500);
  }
}

export function tail(file: string | undefined, lines = 15): string {
  if (!file) return '';
  try {
    return fs
      .readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((l) => `    ${l}`)
      .join('\n');
  } catch {
    return '    (no log)';
  }
}

/** Runs a shell installer from scripts/stack (its progress goes to stderr) and returns the last line it printed (a path). */
export function runInstaller(service: string, script: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', (err) =>
      reject(new StackError(service, `installer ${path.basename(script)} could not run: ${err.message}`)),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(stdout.trim().split('\n').pop() ?? '');
      else
        reject(
          new StackError(
            service,
            `installation failed (${path.basename(script)} exited ${code}); see the messages above`,
          ),
        );
    });
  });
}
