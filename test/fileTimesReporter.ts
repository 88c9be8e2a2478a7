import fs from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints, at the end of a run, each test file's wall time (slowest first) with its lane and
 * test count, and writes the same as JSON to `.rekey/test-times.json` (REKEY_TEST_TIMES
 * overrides the path) so CI and the README can quote figures instead of guesses. With
 * REKEY_TEST_TIMES_MERGE=1 (set by `npm test`, whose two lanes are two vitest processes) the
 * other lanes' rows already in the file are kept, and the table shows every lane so far.
 */
export default class FileTimesReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const out = process.env.REKEY_TEST_TIMES ?? path.join(process.cwd(), '.rekey', 'test-times.json');
    const own = modules.map((m) => {
      const d = m.diagnostic();
      const tests = [...m.children.allTests()];
      return {
        file: path.relative(process.cwd(), m.moduleId),
        lane: m.project.name,
        seconds: Math.round((d.duration + d.collectDuration + d.setupDuration) / 100) / 10,
        tests: tests.length,
        failed: tests.filter((t) => t.result().state === 'failed').length,
      };
    });
    if (own.length === 0) return;
    const lanes = new Set(own.map((r) => r.lane));
    const rows = [
      ...(process.env.REKEY_TEST_TIMES_MERGE === '1' ? earlierRows(out).filter((r) => !lanes.has(r.lane)) : []),
      ...own,
    ];
    rows.sort((a, b) => b.seconds - a.seconds);
    const width = Math.max(...rows.map((r) => r.file.length));
    const lines = [
      '',
      'per-file wall time (s), slowest first:',
      `${'file'.padEnd(width)}  lane   tests  failed  seconds`,
    ];
    for (const r of rows)
      lines.push(
        `${r.file.padEnd(width)}  ${r.lane.padEnd(5)}  ${String(r.tests).padStart(5)}  ${String(r.failed).padStart(6)}  ${r.seconds.toFixed(1).padStart(7)}`,
      );
    const byLane = new Map<string, number>();
    for (const r of rows) byLane.set(r.lane, (byLane.get(r.lane) ?? 0) + r.seconds);
    lines.push(`sum per lane: ${[...byLane].map(([lane, s]) => `${lane} ${s.toFixed(0)} s`).join(', ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), files: rows }, null, 2)}\n`);
  }
}

interface Row {
  file: string;
  lane: string;
  seconds: number;
  tests: number;
  failed: number;
}

function earlierRows(file: string): Row[] {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { files: Row[] }).files;
  } catch {
    return [];
  }
}
