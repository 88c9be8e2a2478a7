import { log } from '@temporalio/workflow';
import { describeError } from './errors.js';

export interface Compensation {
  step: string;
  description: string;
  run: () => Promise<unknown>;
}

export interface CompensationHooks {
  done(c: Compensation): void;
  /** A compensation failed after its activity's retries: ask an operator (retry or abandon). */
  stuck(c: Compensation, error: string): Promise<'retry' | 'abandon'>;
}

/**
 * Compensations are registered *before* the effect they undo runs (so a crash between the
 * two still leaves the undo on record) and run newest first. Each is idempotent.
 */
export class Saga {
  private readonly stack: Compensation[] = [];

  register(c: Compensation): void {
    this.stack.push(c);
  }

  /** The rotation is finished for good (cleanup done): nothing is left to undo. */
  forgetAll(): void {
    this.stack.length = 0;
  }

  pending(): Array<{ step: string; description: string }> {
    return [...this.stack].reverse().map(({ step, description }) => ({ step, description }));
  }

  async compensate(hooks: CompensationHooks): Promise<void> {
    while (this.stack.length > 0) {
      const c = this.stack[this.stack.length - 1]!;
      try {
        await c.run();
        this.stack.pop();
        hooks.done(c);
      } catch (err) {
        const error = describeError(err);
        log.warn('compensation failed; waiting for an operator', { step: c.step, error });
        if ((await hooks.stuck(c, error)) === 'abandon') this.stack.pop();
      }
    }
  }
}
