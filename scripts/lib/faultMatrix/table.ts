import type { CellResult } from './run.js';

/** The matrix as a Markdown table: fault × step → outcome, seconds (as in docs/fault-matrix.md). */
export function formatMatrix(results: CellResult[]): string {
  const rows = results.map((r) => [
    r.procedure,
    r.fault,
    `\`${r.step}\``,
    `${r.ok ? '✅' : '❌'} ${r.outcome}`,
    String(r.seconds),
    String(r.lost),
    [r.detail, ...r.problems].filter(Boolean).join('; ').replace(/\s+/g, ' ').slice(0, 220).replace(/\|/g, '\\|'),
  ]);
  const head = ['procedure', 'fault', 'step / activity', 'outcome', 's', 'lost', 'notes'];
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
