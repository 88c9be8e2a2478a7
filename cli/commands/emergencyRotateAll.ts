import type { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { TLS_SERVICES } from '../../contracts/input/certificate.js';
import type { emergencyRotateAll, EmergencyResult } from '../../workflows/emergency/rotateAll.js';

import { emergencyOrder, emergencyTlsMaterial, RotateAllInput } from '../../contracts/input/rotateAll.js';
import { operator, withClient } from '../context.js';

/** The workflow's query and labels, loaded when the command runs (not for --help). */
const rotateAll = () => import('../../workflows/emergency/rotateAll.js');

/** Prints one line whenever a rotation's status or the phase changes (the progress query, polled). */
async function follow(handle: WorkflowHandle, json: boolean): Promise<EmergencyResult> {
  const { emergencyLabel, emergencyProgressQuery } = await rotateAll();
  const t0 = Date.now();
  let last = '';
  const timer = setInterval(() => {
    void handle.query(emergencyProgressQuery).then(
      (p) => {
        const line = `  ${p.phase}: ${p.rotations.map((r) => `${emergencyLabel(r)} ${r.status}`).join(', ')}`;
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

/** The CLI flag of an input field, for error messages. */
const flagOf = (field: string) =>
  (({ certificateServices: 'certificate-service', caGrace: 'ca-grace' }) as Record<string, string>)[field] ?? field;

/** `rekey emergency rotate-all --reason …`: every credential in compromise mode, then the full validation. */
export function addRotateAllCommand(emergency: Command): void {
  emergency
    .command('rotate-all')
    .description(
      `suspected compromise: rotate every credential now with no grace (${emergencyOrder.join(' → ')}), then validate everything`,
    )
    .requiredOption(
      '--reason <text>',
      'what is suspected (at least 10 characters; goes to every rotation and the audit log)',
    )
    .option('--target <name>', 'the pipeline (a label)', 'ecommerce')
    .option('--skip <procedure...>', `procedures not to run (${emergencyOrder.join(', ')})`)
    .option(
      '--include <material...>',
      `TLS material replaced too, after the credentials (${emergencyTlsMaterial.join(', ')}): certificates reissues every service certificate; ca replaces the CA and reissues them all from it`,
    )
    .option(
      '--certificate-service <service...>',
      `with --include: only these services' certificates (${TLS_SERVICES.join(', ')}; default every one)`,
    )
    .option(
      '--ca-grace <duration>',
      'with --include ca: how long the old CA stays trusted beside the new one (default PT0S, at most PT1H)',
    )
    .option(
      '--inputs <json>',
      'per-procedure input, e.g. \'{"postgresql-app":{"secret":"nessie-db","ownerRole":"nessie_owner","applicationName":"nessie","workload":{"kind":"Deployment","name":"nessie"}}}\' (an application\'s login is rotated only when named here)',
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (o: {
        reason: string;
        target: string;
        skip?: string[];
        include?: string[];
        certificateService?: string[];
        caGrace?: string;
        inputs?: string;
        json?: boolean;
      }) => {
        let inputs: unknown;
        try {
          inputs = o.inputs === undefined ? undefined : JSON.parse(o.inputs);
        } catch (err) {
          throw new Error(`invalid arguments: --inputs: not JSON (${(err as Error).message})`);
        }
        const input = RotateAllInput.safeParse({
          inputs,
          reason: o.reason,
          target: o.target,
          skip: o.skip ?? [],
          include: o.include ?? [],
          certificateServices: o.certificateService,
          caGrace: o.caGrace,
          requestedBy: operator,
        });
        if (!input.success)
          throw new Error(
            `invalid arguments: ${input.error.issues.map((i) => `--${flagOf(String(i.path[0]))}${i.path[0] === 'inputs' && i.path.length > 1 ? ` (${i.path.slice(1).join('.')})` : ''}: ${i.message}`).join('; ')}`,
          );
        const result = await withClient(async (client, taskQueue) => {
          const handle = await client.workflow.start<typeof emergencyRotateAll>('emergencyRotateAll', {
            taskQueue,
            workflowId: `emergency-rotate-all/${o.target}`,
            args: [input.data],
            staticSummary: `EMERGENCY rotate-all for ${o.target}: ${o.reason}`,
          });
          if (!o.json)
            console.log(`started ${handle.workflowId} (each rotation is a child: see it as one tree in the Web UI)`);
          return follow(handle, Boolean(o.json));
        });
        const { emergencyLabel } = await rotateAll();
        if (o.json) console.log(JSON.stringify(result));
        else {
          for (const r of result.rotations) {
            console.log(
              `${r.status === 'completed' || r.status === 'skipped' ? '✓' : '✗'} ${emergencyLabel(r).padEnd(26)} ${r.status.padEnd(10)} ${r.error ?? `${r.from ?? ''} → ${r.to ?? ''}`}`,
            );
            if (r.preempted) console.log(`  ${r.preempted}`);
          }
          const v = result.validation;
          console.log(
            v
              ? `${v.ok ? '✓' : '✗'} validation (${v.workflowId})${v.failed.length ? `: ${v.failed.join('; ')}` : ''}`
              : '✗ validation did not run',
          );
          console.log(`emergency rotation ${result.status}`);
        }
        if (result.status !== 'completed') process.exitCode = 1;
      },
    );
}
