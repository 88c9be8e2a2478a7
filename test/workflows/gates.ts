import { ApplicationFailure, Context } from '@temporalio/activity';

interface Gate {
  opened: Promise<void>;
  open: () => void;
  reached: Promise<void>;
  reach: () => void;
}

/**
 * Gates that hold a stub activity at a step, for the worlds of the workflow tests. A test
 * waits for `reached` before changing anything the held run could see: a step the workflow
 * reports running may still be queued on a loaded machine, and would run in whatever world is
 * current by the time a worker picks it up.
 */
export class Gates {
  private readonly gates = new Map<string, Gate>();

  private of(activity: string): Gate {
    let gate = this.gates.get(activity);
    if (!gate) {
      let open!: () => void;
      let reach!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      const reached = new Promise<void>((r) => (reach = r));
      gate = { opened, open, reached, reach };
      this.gates.set(activity, gate);
    }
    return gate;
  }

  /** Holds `activity` until the returned function is called. */
  gate(activity: string): () => void {
    const gate = this.of(activity);
    return () => {
      this.gates.delete(activity);
      gate.open();
    };
  }

  /** Resolves once a call of `activity` waits at its gate (set with `gate` first). */
  reached(activity: string): Promise<void> {
    const gate = this.gates.get(activity);
    if (!gate) throw new Error(`no gate on ${activity}: call gate('${activity}') first`);
    return gate.reached;
  }

  /** On a stub's entry: waits at `activity`'s gate, if there is one. */
  async pass(activity: string): Promise<void> {
    const gate = this.gates.get(activity);
    if (!gate) return;
    gate.reach();
    await heldUntil(gate.opened);
  }
}

/**
 * Waits on a gate as a real long wait does: heartbeating, so a cancellation (a rollback that
 * stops the wait) reaches it and it ends as cancelled. (An activity that never heard of its
 * cancellation stays pending on the Java test server after its workflow closed, and blocks time
 * skipping for every later test of the file.)
 */
async function heldUntil(opened: Promise<void>): Promise<void> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    return opened;
  }
  const beat = setInterval(() => ctx!.heartbeat('held by the test'), 200);
  try {
    await Promise.race([opened, ctx.cancelled]);
  } finally {
    clearInterval(beat);
  }
}

/**
 * The wrapper every stub world writes its activities with: `enter(name)` runs first (it records
 * the call, holds it at a gate or throws an injected failure), then the stub's own body.
 */
export const stubbedWith =
  (enter: (name: string) => void | Promise<void>) =>
  <I, O>(name: string, fn: (input: I) => O | Promise<O>) =>
  async (input: I): Promise<O> => {
    await enter(name);
    return fn(input);
  };

/**
 * A stub world's entry for `stubbedWith`: records the call, then throws an injected
 * non-retryable failure while `failures` has some left for that activity.
 */
export const recordedWithFailures = (w: { calls: string[]; failures: Map<string, number> }) => (name: string) => {
  w.calls.push(name);
  const left = w.failures.get(name) ?? 0;
  if (left > 0) {
    w.failures.set(name, left - 1);
    throw ApplicationFailure.nonRetryable(`stub failure in ${name}`, 'StubFailure');
  }
};
