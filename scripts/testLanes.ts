/**
 * `npm test`: the lanes at once, as separate vitest processes, so the run takes about as long
 * as the stack lane alone (2 cores: more processes than this only slow each other down).
 * - `stack`: the pipeline's files, one after another against the embedded stack; streams to
 *   the terminal and sets the pace.
 * - `fast`: unit and workflow tests beside it on one worker (no service).
 * - `stack-side`: the stack files that never change the pipeline, started once the stack is up,
 *   beside the pipeline files (its global setup waits for the shared stack, never starts it).
 * The side lanes write to `.rekey/test-<lane>.log` and are summarised when they end (their
 * failures printed in full). The stack is stopped at the end if this run started it (unless
 * REKEY_KEEP_STACK=1). Exit status: non-zero if any lane failed.
 *
 * Arguments go to every lane (`npm test -- rotation` runs the matching files of each).
 * `npm run test:fast` / `npm run test:stack` run one lane alone.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadStackConfig } from './stack/config.js';
import { down, status } from './stack/stack.js';

const root = path.resolve(import.meta.dirname, '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const timesFile = path.join(root, '.rekey', 'test-times.json');
const args = process.argv.slice(2);

interface LaneResult {
  lane: string;
  code: number;
  seconds: number;
  log?: string;
}

/**
 * The lanes beside the stack lane run at a lower CPU priority (`nice`, inherited by their
 * workers and test servers): the stack lane sets the run's pace, and they end long before it.
 */
const canNice = process.platform === 'linux' && fs.existsSync('/usr/bin/nice');

/** One vitest process for `lane`; `log`: its output goes there instead of the terminal. */
function runLane(lane: string, env: NodeJS.ProcessEnv, log?: string, signal?: AbortSignal): Promise<LaneResult> {
  const t0 = Date.now();
  const fd = log ? fs.openSync(log, 'w') : undefined;
  const out = fd ?? 'inherit';
  const argv = [process.execPath, vitest, 'run', '--project', lane, ...args];
  // nice execs node: the child's pid (and the signals sent to it) stay vitest's
  const [command, ...rest] = lane !== 'stack' && canNice ? ['/usr/bin/nice', '-n', '5', ...argv] : argv;
  // every lane's reporter merges into one times file (REKEY_TEST_TIMES_MERGE): the last to end prints the whole table
  const child = spawn(command!, rest, {
    cwd: root,
    stdio: ['ignore', out, out],
    ...(signal ? { signal, killSignal: 'SIGINT' as const } : {}),
    env: {
      ...process.env,
      REKEY_TEST_TIMES_MERGE: '1',
      REKEY_KEEP_STACK: '1',
      ...(fd ? { FORCE_COLOR: '0' } : {}),
      ...env,
    },
  });
  const stop = () => child.kill('SIGINT');
  process.once('SIGINT', stop).once('SIGTERM', stop);
  child.on('error', () => undefined); // an abort: reported through 'exit'
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      if (fd !== undefined) fs.closeSync(fd);
      const result = { lane, code: code ?? (signal ? 1 : 0), seconds: Math.round((Date.now() - t0) / 1000), log };
      if (log) report(result);
      resolve(result);
    });
  });
}

/** A side lane's summary lines, and its failures in full when it failed. */
function report(r: LaneResult) {
  const text = fs.readFileSync(r.log!, 'utf8');
  const summary = text.split('\n').filter((l) => /^\s*(Test Files|Tests|Duration)\s/.test(l));
  process.stdout.write(
    `\n[${r.lane} lane] ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.seconds} s (full output: ${path.relative(root, r.log!)})\n${summary.join('\n')}\n`,
  );
  if (r.code !== 0) {
    const failures = text.indexOf('Failed Tests');
    process.stdout.write(`${failures >= 0 ? text.slice(Math.max(0, failures - 40)) : text.slice(-20_000)}\n`);
  }
}

async function stackUp(): Promise<boolean> {
  return (await status(loadStackConfig()).catch(() => [])).every((s) => s.healthy);
}

async function main() {
  fs.mkdirSync(path.dirname(timesFile), { recursive: true });
  fs.rmSync(timesFile, { force: true });
  const wasRunning = await stackUp();
  const logOf = (lane: string) => path.join(root, '.rekey', `test-${lane}.log`);
  process.stdout.write(
    `[lanes] stack lane here; fast lane beside it (1 worker, ${path.relative(root, logOf('fast'))}), and the stack-side lane once the stack is up (${path.relative(root, logOf('stack-side'))})\n`,
  );
  // the stack lane's files that the side lane cannot run beside wait for this file (test/stackEnv.ts)
  const sideLaneEnded = path.join(root, '.rekey', 'stack-side.ended');
  fs.rmSync(sideLaneEnded, { force: true });
  const stack = runLane('stack', { REKEY_SIDE_LANE_ENDED: sideLaneEnded });
  const fast = runLane('fast', { REKEY_FAST_WORKERS: '1' }, logOf('fast'));
  let stackEnded = false;
  // a stack lane that failed and left no stack (it could not start one) ends the side lane, which would wait for it
  const noStack = new AbortController();
  void stack.then(async (r) => {
    stackEnded = true;
    if (r.code !== 0 && !(await stackUp())) noStack.abort();
  });
  const side = (async () => {
    // its global setup reuses the stack the stack lane brings up: wait for it, never start it twice
    while (!stackEnded && !(await stackUp())) await sleep(5000);
    return runLane('stack-side', { REKEY_STACK_SHARED: '1' }, logOf('stack-side'), noStack.signal);
  })().finally(() => fs.writeFileSync(sideLaneEnded, new Date().toISOString()));
  const results = await Promise.all([fast, stack, side]);
  if (!wasRunning && process.env.REKEY_KEEP_STACK !== '1')
    await down(loadStackConfig(), {}, (line) => console.error(`[stack] ${line}`));
  process.stdout.write(
    `\n[lanes] ${results.map((r) => `${r.lane} ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.seconds} s`).join(', ')}\n`,
  );
  process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
}

void main();
