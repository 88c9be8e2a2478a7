import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { Json } from '../workers/config.js';
import { configureCli } from './context.js';
import { registerCertificateLifecycleCommands } from './commands/certificateLifecycle.js';
import { registerCertificateCommands } from './commands/certificates.js';
import { emergencyCommand, registerEmergencyCommands } from './commands/emergency.js';
import { addRotateAllCommand } from './commands/emergencyRotateAll.js';
import { registerInspectCommands } from './commands/inspect.js';
import { registerRollbackCommand } from './commands/rollback.js';
import { registerRotateCommands } from './commands/rotate.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { registerValidateCommands } from './commands/validate.js';

/** The version of the package this file ships in (package.json beside cli/ in the sources, two levels up in dist/). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rekey') return pkg.version ?? '0.0.0';
    }
  }
  return 'unknown';
}

/** The operator CLI: start, inspect and steer rotations (what the Web UI does, from a terminal). */
export function rekeyProgram(): Command {
  const program = new Command('rekey')
    .description('credential rotations for the CDC pipeline, on Temporal')
    .version(packageVersion(), '--version')
    .option('--address <host:port>', 'Temporal frontend (env REKEY_TEMPORAL_ADDRESS, then TEMPORAL_ADDRESS)')
    .option('--namespace <name>', 'Temporal namespace (env REKEY_TEMPORAL_NAMESPACE, then TEMPORAL_NAMESPACE)')
    .hook('preAction', (root) => {
      const o = root.opts<{ address?: string; namespace?: string }>();
      configureCli({ address: o.address, namespace: o.namespace });
    });
  registerRotateCommands(program);
  registerInspectCommands(program);
  registerRollbackCommand(program);
  registerValidateCommands(program);
  registerScheduleCommands(program);
  registerEmergencyCommands(program);
  addRotateAllCommand(emergencyCommand(program));
  registerCertificateCommands(program);
  registerCertificateLifecycleCommands(program);
  return program;
}

/** Errors whose message is already the whole story for an operator (input, configuration, a busy resource, a connection). */
const PLAIN_ERRORS = new Set([
  'InvalidInputError',
  'RotationInProgressError',
  'ConfigError',
  'ScheduleFileError',
  'ConnectionError',
]);

/** Runs the CLI; `defaults` sit under the environment (the embedded stack's, from scripts/rekey.ts). Exits 1 on an error. */
export async function runRekey(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; defaults?: Json; ignoreTemporalCliEnv?: boolean } = {},
): Promise<void> {
  configureCli({
    env: opts.env ?? process.env,
    defaults: opts.defaults,
    ignoreTemporalCliEnv: opts.ignoreTemporalCliEnv,
  });
  await rekeyProgram()
    .parseAsync(argv, { from: 'user' })
    .catch((err: unknown) => {
      const e = err as Error;
      console.error(PLAIN_ERRORS.has(e.name) ? e.message : `rekey: ${e.message}`);
      process.exit(1);
    });
}
