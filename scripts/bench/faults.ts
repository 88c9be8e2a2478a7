import fs from 'node:fs';
import { Command } from 'commander';
import { matrixCells } from '../lib/faultMatrix/cells.js';
import { FaultMatrix } from '../lib/faultMatrix/matrix.js';
import { procedureNames, type ProcedureName } from '../lib/faultMatrix/procedures.js';
import type { CellResult } from '../lib/faultMatrix/run.js';
import { formatMatrix } from '../lib/faultMatrix/table.js';
import { upWithStore } from '../lib/stores.js';
import { embeddedWorkerConfig } from '../lib/session.js';

const program = new Command('bench:faults')
  .description(
    'The fault matrix on the embedded stack: each fault injected at its step of a rotation under CDC load (and the worker SIGKILLed inside every activity), then the end state checked: completed with the new credential in use or rolled back with the old one, nothing left over, no secret in history, 0 lost change events',
  )
  .option('--json', 'print the cells as one JSON array on the last line')
  .option('--ci', 'only the CI-sized subset (what test/e2e/faultMatrix.test.ts runs)')
  .option('--only <text>', 'only cells whose procedure, fault or step contains this text')
  .option('--jsonl <file>', 'also append each cell to this file as it finishes (a long run can be read while it goes)')
  .option(
    '--sweeps <list>',
    `worker-kill sweeps to run: comma list of ${procedureNames.join(', ')}, or none`,
    procedureNames.join(','),
  )
  .parse();
const opts = program.opts<{ json?: boolean; jsonl?: string; ci?: boolean; only?: string; sweeps: string }>();

function parseSweeps(list: string): ProcedureName[] {
  if (list === 'none' || list === '') return [];
  const names = list.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(procedureNames as readonly string[]).includes(n));
  if (bad.length)
    throw new Error(`--sweeps: unknown procedure ${bad.join(', ')} (expected ${procedureNames.join(', ')} or none)`);
  return names as ProcedureName[];
}

async function main() {
  const sweeps = parseSweeps(opts.sweeps);
  const matches = (text: string) => !opts.only || text.toLowerCase().includes(opts.only.toLowerCase());
  const cells = matrixCells.filter((c) => (!opts.ci || c.ci) && matches(`${c.procedure} ${c.fault} ${c.step}`));
  await upWithStore(embeddedWorkerConfig().stack, 'file', (l) => console.error(`  ${l}`), 'all');
  const matrix = await FaultMatrix.open();
  const results: CellResult[] = [];
  const report = (r: CellResult) => {
    results.push(r);
    if (opts.jsonl) fs.appendFileSync(opts.jsonl, `${JSON.stringify(r)}\n`);
    console.error(
      `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.procedure} | ${r.fault} | ${r.step} → ${r.outcome} (${r.seconds} s)${r.problems.length ? `: ${r.problems.join('; ')}` : ''}`,
    );
  };
  try {
    for (const c of cells) {
      console.error(`[cell] ${c.procedure} | ${c.fault} @ ${c.step}`);
      report(await matrix.cell(c));
    }
    for (const p of opts.ci || opts.only ? sweeps.filter((s) => matches(`${s} worker SIGKILL`)) : sweeps) {
      console.error(`[sweep] worker SIGKILL inside every activity of ${p}`);
      (await matrix.killSweep(p)).forEach(report);
    }
  } finally {
    await matrix.close();
  }
  console.log(opts.json ? JSON.stringify(results) : formatMatrix(results));
  // exit now: a client a fault left half-closed (a socket PostgreSQL's restart cut) must not keep the process alive
  process.exit(results.some((r) => !r.ok) ? 1 : 0);
}

// an hour-long run must not die of one stray client error (e.g. a connection PostgreSQL's restart terminated)
process.on('uncaughtException', (e) => console.error(`bench:faults: uncaught ${e.name}: ${e.message}`));

main().catch((e: unknown) => {
  console.error(`bench:faults: ${(e as Error).message}`);
  process.exit(1);
});
