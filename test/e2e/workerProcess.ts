import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/stack/config.js';

/**
 * A development worker as operators run it on the embedded stack (`npm run worker:dev`):
 * its own process, test hooks on, logs appended to `logFile`.
 */
export class WorkerProcess {
  child?: ChildProcess;
  starts = 0;

  constructor(
    readonly taskQueue: string,
    readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  start(): ChildProcess {
    const out = fs.openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/devWorker.ts')], {
      cwd: repoRoot,
      env: { ...process.env, ...this.env, REKEY_TASK_QUEUE: this.taskQueue, REKEY_TEST_HOOKS: 'true' },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.starts++;
    return this.child;
  }

  /** SIGKILL: no shutdown, no goodbye to the server, activities cut off mid-flight. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }
}
