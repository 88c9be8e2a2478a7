import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** An operator asked for a rollback (signal), or a drill injected a failure. */
export class RollbackRequested extends Error {
  override name = 'RollbackRequested';
}

/** The message of the failure an activity raised, without the wrapping "Activity task failed". */
export function describeError(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return `${e.type ? `${e.type}: ` : ''}${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
