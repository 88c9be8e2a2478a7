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

/** Polls `check` until it returns true; fails with the service's log path when time runs out or the process died. */
export async function waitFor(
  service: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; logPath?: string; pid?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (opts.pid !== undefined && !isAlive(opts.pid)) {
      throw new StackError(service, `process exited before it became ${opts.what ?? 'healthy'}; last lines of its log:\n${tail(opts.logPath)}`, opts.logPath);
    }
    await sleep(500);
  }
  throw new StackError(service, `not ${opts.what ?? 'healthy'} after ${Math.round(opts.timeoutMs / 1000)} s${lastError ? ` (last error: ${lastError})` : ''}`, opts.logPath);
}

export function tail(file: string | undefined, lines = 15): string {
  if (!file) return '';
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
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
    child.on('error', (err) => reject(new StackError(service, `installer ${path.basename(script)} could not run: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout.trim().split('\n').pop() ?? '');
      else reject(new StackError(service, `installation failed (${path.basename(script)} exited ${code}); see the messages above`));
    });
  });
}
