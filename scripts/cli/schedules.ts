import path from 'node:path';
import type { Command } from 'commander';
import { applySchedules, listSchedules, pauseSchedule, triggerSchedule, unpauseSchedule } from '../../workers/schedules/client.js';
import { loadScheduleFile } from '../../workers/schedules/file.js';
import { repoRoot } from '../stack/config.js';
import { operator, withClient } from './context.js';

const defaultFile = path.join(repoRoot, 'schedules.yaml');

/** `rekey schedules …`: the maintenance calendar as Temporal Schedules, from a declarative file. */
export function registerScheduleCommands(program: Command): void {
  const schedules = program.command('schedules').description('the maintenance calendar (Temporal Schedules) from schedules.yaml');

  schedules
    .command('apply')
    .description('create or update the schedules the file lists (idempotent); --prune deletes rekey schedules it no longer lists')
    .option('--file <path>', 'the calendar file', defaultFile)
    .option('--prune', 'delete rekey/* schedules that are not in the file')
    .option('--json')
    .action(async (o: { file: string; prune?: boolean; json?: boolean }) => {
      loadScheduleFile(o.file); // validate before connecting: a bad file never touches the server
      const changes = await withClient((client, taskQueue) => applySchedules(client, o.file, { taskQueue, prune: o.prune }));
      if (o.json) console.log(JSON.stringify(changes));
      else for (const c of changes) console.log(`${c.change.padEnd(9)} ${c.id}`);
    });

  schedules
    .command('list')
    .description('rekey schedules: next run times, pause state and note, last run')
    .option('--next <n>', 'how many next run times to show', '3')
    .option('--json')
    .action(async (o: { next: string; json?: boolean }) => {
      const rows = await withClient((client) => listSchedules(client));
      if (o.json) return console.log(JSON.stringify(rows));
      if (rows.length === 0) return console.log('no rekey schedules; create them with: npm run rekey -- schedules apply');
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
      await withClient((client) => pauseSchedule(client, id, `${o.note} (by ${operator})`));
      console.log(`paused ${id}`);
    });

  schedules
    .command('unpause <id>')
    .description('resume a paused schedule')
    .option('--note <text>', 'why it resumes', 'resumed')
    .action(async (id: string, o: { note: string }) => {
      await withClient((client) => unpauseSchedule(client, id, `${o.note} (by ${operator})`));
      console.log(`unpaused ${id}`);
    });

  schedules
    .command('trigger <id>')
    .description('run the schedule now (overlap SKIP: nothing happens while its previous run is open)')
    .action(async (id: string) => {
      await withClient((client) => triggerSchedule(client, id));
      console.log(`triggered ${id}; follow it with: npm run rekey -- schedules list`);
    });
}
