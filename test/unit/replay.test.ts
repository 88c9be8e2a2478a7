import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../../workers/worker.js';

const dir = path.resolve(import.meta.dirname, '..', 'histories');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];

/**
 * Replays histories recorded from real runs (REKEY_RECORD_HISTORIES=1 npm test) against
 * today's workflow code: a change that would break running rotations fails here.
 */
describe('replay of recorded rotation histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it('replays every one of them without nondeterminism', async () => {
    const failures: string[] = [];
    for (const f of files) {
      // the SDK parses the CLI's JSON export itself
      const json: unknown = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      await Worker.runReplayHistory({ workflowsPath, replayName: 'rekey-replay' }, json, f).catch((err: Error) => failures.push(`${f}: ${err.message}`));
    }
    expect(failures).toEqual([]);
  });
});
