import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { activityOptions } from './activityOptions.js';

/**
 * The activity stubs every procedure's workflow uses, one per retry class
 * (`activityOptions`), and `worker`: local activities that resolve a plan on the worker.
 */
export function procedureActivities() {
  return {
    read: proxyActivities<Activities>(activityOptions.read),
    change: proxyActivities<Activities>(activityOptions.change),
    wait: proxyActivities<Activities>(activityOptions.wait),
    undo: proxyActivities<Activities>(activityOptions.undo),
    worker: proxyLocalActivities<Activities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 3 } }),
  };
}
