import path from 'node:path';
import type { Command } from 'commander';
import { operator, withClient } from '../context.js';

/** The Schedules client and the file's parser, loaded when a command runs (not for --help). */
const schedulesClient = () => import('../../workers/schedules/client.js');

/** The calendar file in the working directory (REKEY_SCHEDULES_FILE names another). */
const defaultFile = process.env.REKEY_SCHEDULES_FILE ?? path.resolve('schedules.yaml');

/** `rekey schedules …`: the maintenance calendar as Temporal Schedules, from a declarative file. */
export function registerScheduleCommands(program: Command): void {
  const schedules = program
    .command('schedules')
    .description('the maintenance calendar (Temporal Schedules) from schedules.yaml');

  schedules
    .command('apply')
    .description(
      'create or update the schedules the file lists (idempotent); --prune deletes rekey schedules it no longer lists',
    )
    .option('--file <path>', 'the calendar file', defaultFile)
    .option('--prune', 'delete rekey/* schedules that are not in the file')
    .option('--json')
    .action(async (o: { file: string; prune?: boolean; json?: boolean }) => {
      const { loadScheduleFile } = await import('../../workers/schedules/file.js');
      const { applySchedules } = await schedulesClient();
      loadScheduleFile(o.file); // validate before connecting: a bad file never touches the server
      const changes = await withClient((client, taskQueue) =>
        applySchedules(client, o.file, { taskQueue, prune: o.prune }),
      );
      if (o.json) console.log(JSON.stringify(changes));
      else for (const c of changes) console.log(`${c.change.padEnd(9)} ${c.id}`);
    });

  schedules
    .command('list')
    .description('rekey schedules: next run times, pause state and note, last run')
    .option('--next <n>', 'how many next run times to show', '3')
    .option('--json')
    .action(async (o: { next: string; json?: boolean }) => {
      const { listSchedules } = await schedulesClient();
      const rows = await withClient((client) => listSchedules(client));
      if (o.json) return console.log(JSON.stringify(rows));
      if (rows.length === 0) return console.log('no rekey schedules; create them with: rekey schedules apply');
      for (const r of rows) {
        console.log(`${r.id}  (${r.procedure})${r.paused ? `  PAUSED: ${r.note}` : ''}\n  ${r.description}`);
        console.log(`  next: ${r.nextRuns.slice(0, Number(o.next)).join(', ') || '(none)'}`);
        if (r.lastRun) console.log(`  last: ${r.lastRun.workflowId} (scheduled ${r.lastRun.scheduledAt})`);
      }
    });

  schedules
    .command('pause <id>')
    .description('pause a schedule; the note says why (shown by list and the Web UI)')
    .requiredOption('--note <text>', 'why it is paused')
    .action(async (id: string, o: { note: string }) => {
      const { pauseSchedule } = await schedulesClient();
      await withClient((client) => pauseSchedule(client, id, `${o.note} (by ${operator})`));
      console.log(`paused ${id}`);
    });

  schedules
    .command('unpause <id>')
    .description('resume a paused schedule')
    .option('--note <text>', 'why it resumes', 'resumed')
    .action(async (id: string, o: { note: string }) => {
      const { unpauseSchedule } = await schedulesClient();
      await withClient((client) => unpauseSchedule(client, id, `${o.note} (by ${operator})`));
      console.log(`unpaused ${id}`);
    });

  schedules
    .command('trigger <id>')
    .description('run the schedule now (overlap SKIP: nothing happens while its previous run is open)')
    .action(async (id: string) => {
      const { triggerSchedule } = await schedulesClient();
      await withClient((client) => triggerSchedule(client, id));
      console.log(`triggered ${id}; follow it with: rekey schedules list`);
    });
}
