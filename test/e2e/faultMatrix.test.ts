import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matrixCells } from '../../scripts/lib/faultMatrix/cells.js';
import { FaultMatrix } from '../../scripts/lib/faultMatrix/matrix.js';
import type { CellResult } from '../../scripts/lib/faultMatrix/run.js';
import { formatMatrix } from '../../scripts/lib/faultMatrix/table.js';

/**
 * The CI-sized subset of the fault matrix (`npm run bench:faults` runs all of it): real faults
 * through the fault proxies, a worker killed inside an activity, a service restarted, each in
 * a rotation under CDC insert load. Each cell's end state is what an operator would check:
 * completed with the new credential in use, or rolled back with the old one — nothing left
 * over, no secret in the history, no change event lost.
 */
let matrix: FaultMatrix;
const results: CellResult[] = [];
beforeAll(async () => {
  matrix = await FaultMatrix.open();
});
afterAll(async () => {
  await matrix?.close();
  if (results.length) console.info(`fault matrix (CI subset):\n${formatMatrix(results)}`);
});

const expectConverged = (r: CellResult) => {
  results.push(r);
  expect(r.problems, `${r.procedure} | ${r.fault} @ ${r.step}: ${r.detail ?? ''}`).toEqual([]);
  expect(['completed', 'rolled-back']).toContain(r.outcome);
  expect(r.lost).toBe(0);
  expect(r.ok).toBe(true);
};

describe('fault matrix (CI subset)', () => {
  // a worker SIGKILLed inside running activities (CDC) is crash.test.ts; every activity of every procedure: npm run bench:faults
  it.each(matrixCells.filter((c) => c.ci).map((c) => [`${c.procedure} | ${c.fault} @ ${c.step}`, c] as const))(
    '%s',
    async (_name, c) => {
      expectConverged(await matrix.cell(c));
    },
    300_000,
  );
});
