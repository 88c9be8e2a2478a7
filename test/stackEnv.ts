import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, expect, inject } from 'vitest';
import { afterStackSideFiles } from './laneFiles.js';

// The stack lane's setup file: the workers each test file starts (in-process, or as worker
// processes that inherit this environment) load the workflow code its global setup bundled once.
process.env.REKEY_DEV_WORKFLOW_BUNDLE ??= inject('stackWorkflowBundlePath');

/** Set by scripts/testLanes.ts when the side lane runs beside this one: the file it writes when that lane ends. */
const sideLaneEnded = process.env.REKEY_SIDE_LANE_ENDED;
const SIDE_LANE_WAIT_MS = 20 * 60_000;

// A file the side lane cannot run beside waits for that lane's end (usually long past: see laneFiles.ts).
beforeAll(async () => {
  const file = expect.getState().testPath ?? '';
  if (!sideLaneEnded || !afterStackSideFiles.some((f) => file.endsWith(f))) return;
  const t0 = Date.now();
  while (!fs.existsSync(sideLaneEnded)) {
    if (Date.now() - t0 > SIDE_LANE_WAIT_MS)
      throw new Error(`the side lane had not ended after ${SIDE_LANE_WAIT_MS / 60_000} min`);
    await sleep(2000);
  }
  if (Date.now() - t0 > 2000)
    console.info(`[lanes] ${file}: waited ${Math.round((Date.now() - t0) / 1000)} s for the side lane to end`);
}, SIDE_LANE_WAIT_MS + 10_000);
