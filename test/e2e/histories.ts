import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { temporalAddress } from '../../scripts/stack/temporal.js';

export const historiesDir = path.resolve(import.meta.dirname, '..', 'histories');

/**
 * With REKEY_RECORD_HISTORIES=1, stores a finished workflow's history (exported by the
 * Temporal CLI, the format the Web UI downloads) for the replay test. Recorded by a
 * worker without payload encryption so replay needs no key; the histories hold names
 * and fingerprints only.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.REKEY_RECORD_HISTORIES !== '1') return;
  const cfg = loadStackConfig();
  const cli = path.join(cfg.cache, `temporal-cli-${cfg.versions.temporalCli}`, 'temporal');
  const { stdout } = await promisify(execFile)(cli, ['workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json', '--address', temporalAddress(cfg)], { maxBuffer: 64 << 20 });
  await fs.mkdir(historiesDir, { recursive: true });
  await fs.writeFile(path.join(historiesDir, `${name}.json`), stdout);
}
