import fs from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

export const historiesDir = path.resolve(import.meta.dirname, '..', 'histories');

/** True when this test run records histories (REKEY_RECORD_HISTORIES=1). */
export const recording = process.env.REKEY_RECORD_HISTORIES === '1';

/** Worker overrides while recording: no payload encryption, so replay needs no key. */
export const recordingOverrides = recording ? { codec: { keyId: 'none', insecureNoEncryption: true } } : {};

/**
 * With REKEY_RECORD_HISTORIES=1, stores a finished workflow's history (the JSON the Web UI
 * and `temporal workflow show --output json` export) for the replay test. Recorded by a
 * worker without payload encryption so replay needs no key; the histories hold names and
 * fingerprints only. The run is pinned (first execution run id when the handle has one), so
 * a later run under the same workflow id is never recorded by mistake.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!recording) return;
  const { firstExecutionRunId: runId } = handle as { firstExecutionRunId?: string };
  const history = await handle.client.getHandle(handle.workflowId, runId).fetchHistory();
  await fs.mkdir(historiesDir, { recursive: true });
  await fs.writeFile(path.join(historiesDir, `${name}.json`), historyToJSON(history));
  // workflows that derive ids from their own (children, the kit's resource check) replay only under it
  await fs.writeFile(path.join(historiesDir, `${name}.id`), `${handle.workflowId}\n`);
}
