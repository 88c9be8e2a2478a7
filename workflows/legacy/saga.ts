import { ActivityFailure, ApplicationFailure, condition, log } from '@temporalio/workflow';

export interface Compensation {
  step: string;
  description: string;
  run: () => Promise<void>;
}

/**
 * Compensations registered before the step they undo runs, undone newest first.
 * A compensation that still fails after its activity retries parks the saga in
 * `needs-attention` until an operator asks to retry (`retry` signal).
 */
export class Saga {
  private readonly stack: Compensation[] = [];
  retryRequested = false;
  attention: { step: string; error: string } | null = null;

  register(c: Compensation): void {
    this.stack.push(c);
  }

  /** Drops the compensation of a step that is done for good (e.g. after cleanup). */
  forget(step: string): void {
    const i = this.stack.findIndex((c) => c.step === step);
    if (i >= 0) this.stack.splice(i, 1);
  }

  pending(): Array<{ step: string; description: string }> {
    return [...this.stack].reverse().map(({ step, description }) => ({ step, description }));
  }

  async compensate(hooks: {
    onStart(c: Compensation): Promise<void>;
    onDone(c: Compensation): Promise<void>;
    onStuck(c: Compensation, error: string): Promise<void>;
    onRetry(): Promise<void>;
  }): Promise<void> {
    while (this.stack.length > 0) {
      const c = this.stack[this.stack.length - 1]!;
      await hooks.onStart(c);
      try {
        await c.run();
        this.stack.pop();
        await hooks.onDone(c);
      } catch (err) {
        const error = describeError(err);
        log.warn('compensation failed; waiting for an operator', { step: c.step, error });
        this.attention = { step: c.step, error };
        await hooks.onStuck(c, error);
        this.retryRequested = false;
        await condition(() => this.retryRequested);
        this.attention = null;
        await hooks.onRetry();
      }
    }
  }
}

/** The message of the failure an activity raised, without the wrapping "Activity task failed". */
export function describeError(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return `${e.type ? `${e.type}: ` : ''}${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
