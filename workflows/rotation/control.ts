import { condition, patched, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type { AuditTrail } from './audit.js';
import {
  AbandonRequest,
  abandonSignal,
  cleanupNowSignal,
  compromiseSignal,
  ExtendGraceRequest,
  extendGraceSignal,
  OperatorRequest,
  type RollbackAccepted,
  RollbackRequest,
  rollbackSignal,
  requestRollbackUpdate,
  retrySignal,
} from './definitions.js';
import { MAX_GRACE_MS, parseIsoDuration } from '../../contracts/duration.js';
import type { PhaseTracker } from './tracker.js';

/** The reason recorded for a rollback signal sent with no input. */
export const ROLLBACK_WITHOUT_INPUT = 'no reason given (rollback signal without input)';

export type Decision = { kind: 'retry'; by: string } | { kind: 'abandon'; by: string; reason: string };

interface ControlHooks {
  audit: AuditTrail;
  tracker: PhaseTracker;
  /** Why a rollback is no longer possible (null: it is). */
  rollbackRefusal(): string | null;
  /** Total grace of this rotation so far (ms), or null when not in the grace period. */
  graceTotalMs(): number | null;
  /** What an accepted rollback does now (the Update's answer). */
  rollbackPreview(): Omit<RollbackAccepted, 'accepted'>;
}

/**
 * What operators ask of a running rotation through signals. Every payload is validated:
 * a missing or malformed one is ignored with its reason recorded (progress steps and
 * audit), never thrown, so a typo in the Web UI cannot wedge a rotation.
 */
export class OperatorControl {
  rollback: { reason: string; by: string } | null = null;
  cleanupNow = false;
  extendedByMs = 0;
  private awaiting = false;
  private decision: Decision | null = null;

  constructor(private readonly hooks: ControlHooks) {}

  install(): void {
    setHandler(rollbackSignal, (raw: unknown) => {
      // A rollback sent with no input (the Web UI's default) is an operator asking to undo: never dropped for want of a
      // reason. Runs before the patch ignored it, and replay keeps them so.
      const r =
        raw == null && patched('rollback-without-input')
          ? { reason: ROLLBACK_WITHOUT_INPUT, by: undefined }
          : this.parse('rollback', RollbackRequest, raw);
      if (!r) return;
      const refusal = this.rollbackRefusal();
      if (refusal) return this.ignore('rollback', refusal);
      this.acceptRollback(r);
    });
    setHandler(
      requestRollbackUpdate,
      (raw: unknown) => {
        this.acceptRollback(RollbackRequest.parse(raw ?? { reason: ROLLBACK_WITHOUT_INPUT }));
        return { accepted: true as const, ...this.hooks.rollbackPreview() };
      },
      {
        // rejected at once, with the reason, and nothing recorded in the history
        validator: (raw: unknown) => {
          const parsed = RollbackRequest.safeParse(raw ?? { reason: ROLLBACK_WITHOUT_INPUT });
          if (!parsed.success)
            throw new Error(
              `malformed rollback request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
            );
          const refusal = this.rollbackRefusal();
          if (refusal) throw new Error(`rollback refused: ${refusal}`);
        },
      },
    );
    setHandler(cleanupNowSignal, (raw: unknown) => {
      const r = this.parse('cleanupNow', OperatorRequest, raw ?? {});
      if (!r) return;
      if (this.hooks.graceTotalMs() === null)
        return this.ignore('cleanupNow', 'the rotation is not in its grace period');
      this.cleanupNow = true;
      this.accept('cleanupNow', `by ${r.by ?? 'operator'}`);
    });
    setHandler(compromiseSignal, (raw: unknown) => {
      const r = this.parse('compromise', OperatorRequest, raw ?? {});
      if (!r) return;
      const by = r.by ?? 'operator';
      if (this.hooks.graceTotalMs() !== null) {
        this.cleanupNow = true;
        return this.accept('compromise', `in grace: the old credential is retired now (by ${by})`);
      }
      if (this.hooks.rollbackRefusal())
        return this.accept('compromise', `cleanup is under way: the old credential is being removed (by ${by})`);
      if (this.rollback) return this.ignore('compromise', 'a rollback is already under way');
      this.acceptRollback({ reason: 'credential compromise: the emergency rotation takes over', by });
    });
    setHandler(extendGraceSignal, (raw: unknown) => {
      const r = this.parse('extendGrace', ExtendGraceRequest, raw);
      if (!r) return;
      const total = this.hooks.graceTotalMs();
      if (total === null) return this.ignore('extendGrace', 'the rotation is not in its grace period');
      const ms = parseIsoDuration(r.duration)!;
      if (total + ms > MAX_GRACE_MS)
        return this.ignore(
          'extendGrace',
          `the grace period would exceed P30D (now ${Math.round(total / 3_600_000)} h)`,
        );
      this.extendedByMs += ms;
      this.accept('extendGrace', `+${r.duration} by ${r.by ?? 'operator'}`);
    });
    setHandler(retrySignal, (raw: unknown) => this.decide('retry', OperatorRequest, raw ?? {}));
    setHandler(abandonSignal, (raw: unknown) => this.decide('abandon', AbandonRequest, raw));
  }

  private rollbackRefusal(): string | null {
    return this.hooks.rollbackRefusal() ?? (this.rollback ? 'a rollback is already under way' : null);
  }

  private acceptRollback(r: RollbackRequest): void {
    this.rollback = { reason: r.reason, by: r.by ?? 'operator' };
    this.accept('rollback', `${r.reason} (by ${this.rollback.by})`);
  }

  /** Parks until an operator sends `retry` or `abandon` (the rotation is in needs-attention). */
  async awaitDecision(): Promise<Decision> {
    this.decision = null;
    this.awaiting = true;
    await condition(() => this.decision !== null);
    this.awaiting = false;
    return this.decision!;
  }

  private decide(
    name: 'retry' | 'abandon',
    schema: typeof OperatorRequest | typeof AbandonRequest,
    raw: unknown,
  ): void {
    const r = this.parse(name, schema, raw) as { by?: string; reason?: string } | undefined;
    if (!r) return;
    if (!this.awaiting)
      return this.ignore(name, 'nothing is waiting for an operator (the rotation is not in needs-attention)');
    const by = r.by ?? 'operator';
    this.decision = name === 'retry' ? { kind: 'retry', by } : { kind: 'abandon', by, reason: r.reason! };
    this.accept(name, name === 'retry' ? `by ${by}` : `${r.reason} (by ${by})`);
  }

  private parse<S extends z.ZodType>(name: string, schema: S, raw: unknown): z.infer<S> | undefined {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    this.ignore(name, `malformed input ignored — ${why}`);
    return undefined;
  }

  private accept(name: string, detail: string): void {
    this.hooks.tracker.note(`signal:${name}`, 'ok', detail);
    this.hooks.audit.record('signal', name, 'received', { event_type: 'signal', detail });
  }

  private ignore(name: string, reason: string): void {
    this.hooks.tracker.note(`signal:${name}`, 'ignored', reason);
    this.hooks.audit.record('signal', name, 'skipped', { event_type: 'signal', detail: `ignored: ${reason}` });
  }
}
