import type { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { duration, operator, withClient } from '../context.js';
import { printProgress } from '../print.js';

/** The rotation kit's signals and query, loaded when a command runs (not for --help). */
const kit = () => import('../../workflows/rotation/definitions.js');
import { listRuns, RUN_KINDS } from '../runs.js';

/** What `rekey progress` prints for any run: its live state where it has a query, else its status and decoded result or failure. */
interface RunProgress {
  workflowId: string;
  type: string;
  status: string;
  state?: unknown;
  result?: unknown;
  failure?: string;
}

/** The failure of a closed run, decoded by the client's codec (a query's own error is not). */
async function outcome(handle: WorkflowHandle): Promise<Pick<RunProgress, 'result' | 'failure'>> {
  const { WorkflowFailedError } = await import('@temporalio/client');
  return handle.result().then(
    (result: unknown) => ({ result }),
    (err: unknown) => ({
      failure: err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message,
    }),
  );
}

async function readProgress(handle: WorkflowHandle): Promise<RunProgress> {
  const d = await handle.describe();
  const base = { workflowId: handle.workflowId, type: d.type, status: d.status.name };
  const reader = RUN_KINDS[d.type]?.progress ?? 'result';
  if (reader !== 'result') {
    const { progressQuery } = await kit();
    const query: QueryDefinition<unknown> =
      reader === 'rotation'
        ? progressQuery
        : reader === 'emergency'
          ? (await import('../../workflows/emergency/rotateAll.js')).emergencyProgressQuery
          : (await import('../../workflows/emergency/definitions.js')).isolationQuery;
    const answer = await handle.query(query).then(
      (state: unknown) => ({ state, error: undefined }),
      (error: unknown) => ({ state: undefined, error: error as Error }),
    );
    const closed = d.status.name !== 'RUNNING' && d.status.name !== 'COMPLETED';
    // a closed run that did not complete (failed, terminated, cancelled, timed out) shows its decoded reason beside its state
    if (answer.state) return { ...base, state: answer.state, ...(closed ? await outcome(handle) : {}) };
    // a running run answers its query through a worker: none answering is the news, not an empty state
    if (d.status.name === 'RUNNING')
      throw new Error(
        `${handle.workflowId} is running but did not answer its ${query.name} query (is a worker polling its task queue?): ${answer.error?.message}`,
      );
    // a run that failed before its state existed (bad input) answers no query: its failure says why
  }
  return d.status.name === 'RUNNING' ? base : { ...base, ...(await outcome(handle)) };
}

function printRun(p: RunProgress): void {
  if (p.state && RUN_KINDS[p.type]?.progress === 'rotation')
    printProgress(p.state as Parameters<typeof printProgress>[0]);
  else {
    console.log(`${p.workflowId}  (${RUN_KINDS[p.type]?.kind ?? p.type}, ${p.status.toLowerCase()})`);
    if (p.state) console.log(JSON.stringify(p.state, null, 2));
    if (p.result !== undefined) console.log(`result: ${JSON.stringify(p.result, null, 2)}`);
  }
  if (p.state && p.status !== 'RUNNING' && p.status !== 'COMPLETED') console.log(`run ${p.status.toLowerCase()}`);
  if (p.failure) console.log(`FAILED: ${p.failure}`);
}

const send =
  (run: (h: WorkflowHandle, o: Record<string, string>) => Promise<void>, what: string) =>
  async (id: string, o: Record<string, string>) =>
    withClient(async (client) => {
      await run(client.workflow.getHandle(id), o);
      console.log(`sent ${what} to ${id}; check it took effect with: rekey progress ${id}`);
    });

/** `rekey progress|list` for every kind of run, and the signals that steer a rotation. */
export function registerInspectCommands(program: Command): void {
  program
    .command('progress <workflowId>')
    .description(
      'the state of any run rekey starts: a rotation’s phase, steps and what a rollback would undo; an emergency’s rotations; an isolation; or a finished run’s result or failure',
    )
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const p = await withClient((client) => readProgress(client.workflow.getHandle(id)));
      if (o.json)
        console.log(JSON.stringify(p.state && RUN_KINDS[p.type]?.progress === 'rotation' && !p.failure ? p.state : p));
      else printRun(p);
      if (p.failure) process.exitCode = 1;
    });

  program
    .command('list')
    .alias('status')
    .description(
      'running runs of every kind: rotations (by their search attributes), emergencies, isolations, validations, scheduled runs, certificate scans',
    )
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await withClient((client) => listRuns(client));
      if (o.json) console.log(JSON.stringify(rows));
      else if (rows.length === 0) console.log('nothing is running');
      else
        for (const r of rows)
          console.log(
            `${r.workflowId.padEnd(52)} ${r.component.padEnd(16)} ${r.phase.padEnd(16)} target ${r.target}, started ${r.startedAt}`,
          );
    });

  program
    .command('cleanup-now <workflowId>')
    .description('end the grace period now and retire the old credential')
    .action(send(async (h) => h.signal((await kit()).cleanupNowSignal, { by: operator }), 'cleanupNow'));
  program
    .command('extend-grace <workflowId>')
    .description('hold the old credential longer (total at most P30D)')
    .requiredOption('--by <duration>', 'e.g. PT12H', duration)
    .action(
      send(async (h, o) => h.signal((await kit()).extendGraceSignal, { duration: o.by!, by: operator }), 'extendGrace'),
    );
  program
    .command('retry <workflowId>')
    .description('retry the step a rotation parked in needs-attention')
    .action(send(async (h) => h.signal((await kit()).retrySignal, { by: operator }), 'retry'));
  program
    .command('abandon <workflowId>')
    .description('skip the parked step; it is recorded as left to do by hand')
    .requiredOption('--reason <text>', 'why')
    .action(
      send(async (h, o) => h.signal((await kit()).abandonSignal, { reason: o.reason!, by: operator }), 'abandon'),
    );
}
