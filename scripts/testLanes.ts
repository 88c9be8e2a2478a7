/**
 * `npm test`: both test lanes at once. The stack lane (one embedded stack, files one after
 * another, ~15 min) sets the pace; the fast lane (no service) runs beside it on one worker, so
 * it costs the run no wall time instead of ~3 min in front of it. The stack lane streams to the
 * terminal; the fast lane writes to `.rekey/test-fast.log` and is summarised when it ends (its
 * failures printed in full). Exit status: non-zero if either lane failed.
 *
 * Arguments go to both lanes (`npm test -- rotation` runs the matching files of each).
 * `npm run test:fast` / `npm run test:stack` run one lane alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const timesFile = path.join(root, '.rekey', 'test-times.json');
const fastLog = path.join(root, '.rekey', 'test-fast.log');
const args = process.argv.slice(2);

interface LaneResult {
  lane: string;
  code: number;
  seconds: number;
}

function runLane(lane: string, extra: string[], out: 'inherit' | number): Promise<LaneResult> {
  const t0 = Date.now();
  // both reporters merge into one times file (REKEY_TEST_TIMES_MERGE): the last lane to end prints the whole table
  const child: ChildProcess = spawn(process.execPath, [vitest, 'run', '--project', lane, ...extra, ...args], {
    cwd: root,
    stdio: ['ignore', out, out],
    env: { ...process.env, REKEY_TEST_TIMES_MERGE: '1', ...(out === 'inherit' ? {} : { FORCE_COLOR: '0' }) },
  });
  const stop = () => child.kill('SIGINT');
  process.once('SIGINT', stop).once('SIGTERM', stop);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ lane, code: code ?? (signal ? 1 : 0), seconds: Math.round((Date.now() - t0) / 1000) }));
  });
}

/** The fast lane's summary lines, and its failures in full when it failed. */
function reportFast(r: LaneResult) {
  const text = fs.readFileSync(fastLog, 'utf8');
  const summary = text.split('\n').filter((l) => /^\s*(Test Files|Tests|Duration)\s/.test(l));
  process.stdout.write(`\n[fast lane] ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.seconds} s (full output: ${path.relative(root, fastLog)})\n${summary.join('\n')}\n`);
  if (r.code !== 0) {
    const failures = text.indexOf('Failed Tests');
    process.stdout.write(`${failures >= 0 ? text.slice(failures - 40) : text.slice(-20_000)}\n`);
  }
}

async function main() {
  fs.mkdirSync(path.dirname(timesFile), { recursive: true });
  fs.rmSync(timesFile, { force: true });
  const fd = fs.openSync(fastLog, 'w');
  process.stdout.write(`[lanes] fast lane (1 worker) beside the stack lane; fast lane output: ${path.relative(root, fastLog)}\n`);
  const fast = runLane('fast', ['--maxWorkers=1'], fd).then((r) => {
    fs.closeSync(fd);
    reportFast(r);
    return r;
  });
  const stack = runLane('stack', [], 'inherit');
  const results = await Promise.all([fast, stack]);
  // the fast lane's summary again at the very end, where a reader of CI's log looks
  process.stdout.write(`\n[lanes] ${results.map((r) => `${r.lane} ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.seconds} s`).join(', ')}\n`);
  process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
}

void main();
