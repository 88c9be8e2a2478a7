import { Command } from 'commander';
import { loadStackConfig } from './config.js';
import { StackError } from './proc.js';
import { down, status, up, type ServiceStatus } from './stack.js';

function print(list: ServiceStatus[], json: boolean) {
  if (json) {
    console.log(JSON.stringify({ services: list }));
    return;
  }
  for (const s of list) {
    const extras = Object.entries(s)
      .filter(([k]) => !['name', 'url', 'healthy'].includes(k))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    console.log(`${s.healthy ? 'ok  ' : 'DOWN'}  ${s.name.padEnd(16)} ${s.url}${extras ? `  ${extras}` : ''}`);
  }
}

const program = new Command('stack').description(
  'the embedded rekey stack: Temporal, PostgreSQL, Kafka, Kafka Connect + Debezium, Schema Registry, AWS emulator',
);

program
  .command('up')
  .description('install (cached) and start every service that is not running, then seed it')
  .option('--json', 'print the status as JSON')
  .action(async (opts: { json?: boolean }) => {
    const list = await up(loadStackConfig());
    print(list, Boolean(opts.json));
    if (list.some((s) => !s.healthy)) process.exitCode = 1;
  });

program
  .command('status')
  .description('health of each service')
  .option('--json', 'print {"services":[{"name","url","healthy"}]}')
  .action(async (opts: { json?: boolean }) => {
    const list = await status(loadStackConfig());
    print(list, Boolean(opts.json));
    if (list.some((s) => !s.healthy)) process.exitCode = 1;
  });

program
  .command('down')
  .description('stop the services; data is kept unless --purge')
  .option('--purge', 'also delete data, logs and generated secrets')
  .action(async (opts: { purge?: boolean }) => {
    await down(loadStackConfig(), { purge: Boolean(opts.purge) });
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof StackError ? err.message : `stack: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
