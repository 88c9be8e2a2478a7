import type { RotationProgress, RotationResult, StepRecord } from '../workflows/rotation/index.js';

const ms = (s: StepRecord) => (s.endedAt ? `${Date.parse(s.endedAt) - Date.parse(s.startedAt)} ms` : '');

export function printSteps(steps: StepRecord[]): void {
  for (const s of steps)
    console.log(`  ${s.outcome.padEnd(11)} ${s.name.padEnd(24)} ${ms(s).padStart(9)}  ${s.detail ?? ''}`);
}

export function printProgress(p: RotationProgress): void {
  console.log(
    `${p.workflowId}  (${p.procedure}, target ${p.target})\n  phase ${p.phase}   ${p.from ?? '?'} → ${p.to ?? '?'}${p.graceEndsAt ? `   grace ends ${p.graceEndsAt}` : ''}`,
  );
  if (p.attention)
    console.log(
      `  NEEDS ATTENTION at ${p.attention.step}: ${p.attention.error}\n  fix the cause, then: rekey retry ${p.workflowId}   (or: rekey abandon ${p.workflowId} --reason …)`,
    );
  printSteps(p.steps);
  if (p.rollbackWouldUndo.length)
    console.log(`  a rollback would undo, in order: ${p.rollbackWouldUndo.map((u) => u.description).join(' ← ')}`);
  for (const l of p.leftByHand) console.log(`  LEFT BY HAND: ${l}`);
}

export function printResult(r: RotationResult): void {
  console.log(`\nrotation ${r.status}: ${r.from ?? '?'} → ${r.to ?? '?'}   (${r.workflowId})`);
  printSteps(r.steps);
  for (const l of r.leftByHand) console.log(`  LEFT BY HAND: ${l}`);
  if (r.validation && !r.validation.ok) console.log(`  ACCESS VALIDATION FAILED: ${r.validation.failed.join('; ')}`);
  if (r.auditGaps) console.log(`  WARNING: ${r.auditGaps} audit event(s) could not be written`);
}

export function printPlan(r: RotationResult): void {
  console.log(`\nplan for ${r.target}: ${r.from} → ${r.to} (pre-flight passed; nothing was changed)`);
  for (const [i, s] of (r.plan ?? []).entries()) {
    console.log(
      `${String(i + 1).padStart(3)}. [${s.phase}] ${s.name}\n       does: ${s.does}${s.undo ? `\n       undo: ${s.undo}` : ''}`,
    );
  }
}
