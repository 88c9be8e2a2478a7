import fs from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';

export const historiesDir = path.resolve(import.meta.dirname, '..', 'histories');

/**
 * With REKEY_RECORD_HISTORIES=1, stores a finished workflow's history for the replay
 * test. Recorded by a worker without payload encryption, so replay needs no key;
 * the histories hold names and fingerprints only.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.REKEY_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  await fs.mkdir(historiesDir, { recursive: true });
  await fs.writeFile(path.join(historiesDir, `${name}.json`), JSON.stringify(history, null, 1));
}
