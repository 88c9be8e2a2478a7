import type { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { emergencyProgressQuery, emergencyRotateAll, type EmergencyResult } from '../../workflows/emergency/rotateAll.js';
import { emergencyOrder, RotateAllInput } from '../../workflows/emergency/rotateAllInput.js';
import { operator, withClient } from './context.js';

/** Prints one line whenever a rotation's status or the phase changes (the progress query, polled). */
async function follow(handle: WorkflowHandle, json: boolean): Promise<EmergencyResult> {
  const t0 = Date.now();
  let last = '';
  const timer = setInterval(() => {
    void handle.query(emergencyProgressQuery).then(
      (p) => {
        const line = `  ${p.phase}: ${p.rotations.map((r) => `${r.account ? `${r.procedure}/${r.account}` : r.procedure} ${r.status}`).join(', ')}`;
        if (!json && line !== last) console.log(`${line}   (${Math.round((Date.now() - t0) / 1000)} s)`);
        last = line;
      },
      () => undefined,
    );
  }, 1000);
  try {
    return (await handle.result()) as EmergencyResult;
  } finally {
    clearInterval(timer);
  }
}

/** `rekey emergency rotate-all --reason …`: every credential in compromise mode, then the full validation. */
export function addRotateAllCommand(emergency: Command): void {
  emergency
    .command('rotate-all')
    .description(`suspected compromise: rotate every credential now with no grace (${emergencyOrder.join(' → ')}), then validate everything`)
    .requiredOption('--reason <text>', 'what is suspected (at least 10 characters; goes to every rotation and the audit log)')
    .option('--target <name>', 'the pipeline (a label)', 'ecommerce')
    .option('--skip <procedure...>', `procedures not to run (${emergencyOrder.join(', ')})`)
    .option('--json', 'print the result as JSON')
    .action(async (o: { reason: string; target: string; skip?: string[]; json?: boolean }) => {
      const input = RotateAllInput.safeParse({ reason: o.reason, target: o.target, skip: o.skip ?? [], requestedBy: operator });
      if (!input.success) throw new Error(`invalid arguments: ${input.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; ')}`);
      const result = await withClient(async (client, taskQueue) => {
        const handle = await client.workflow.start(emergencyRotateAll, {
          taskQueue,
          workflowId: `emergency-rotate-all/${o.target}`,
          args: [input.data],
          staticSummary: `EMERGENCY rotate-all for ${o.target}: ${o.reason}`,
        });
        if (!o.json) console.log(`started ${handle.workflowId} (each rotation is a child: see it as one tree in the Web UI)`);
        return follow(handle, Boolean(o.json));
      });
      if (o.json) console.log(JSON.stringify(result));
      else {
        for (const r of result.rotations) {
          console.log(`${r.status === 'completed' || r.status === 'skipped' ? '✓' : '✗'} ${(r.account ? `${r.procedure}/${r.account}` : r.procedure).padEnd(26)} ${r.status.padEnd(10)} ${r.error ?? `${r.from ?? ''} → ${r.to ?? ''}`}`);
          if (r.preempted) console.log(`  ${r.preempted}`);
        }
        const v = result.validation;
        console.log(v ? `${v.ok ? '✓' : '✗'} validation (${v.workflowId})${v.failed.length ? `: ${v.failed.join('; ')}` : ''}` : '✗ validation did not run');
        console.log(`emergency rotation ${result.status}`);
      }
      if (result.status !== 'completed') process.exitCode = 1;
    });
}
