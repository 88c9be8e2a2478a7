import { plannedStep } from './definitions.js';
import type { procedureActivities } from './procedureActivities.js';
import type { Rotation } from './rotation.js';

/** How long each canary wait may take (the slot's confirmation, the record in Kafka). */
export const CANARY_TIMEOUT_MS = 120_000;

/** Where a canary row travels: PostgreSQL's slot, then the connector's canary topic. */
export interface CanaryPath {
  slot: string;
  canaryTopic: string;
}

/**
 * The three verification steps every procedure that moves the CDC connector ends its switch
 * with, as the plan shows them: a marked row written, the slot confirming past it, the change
 * event read back from Kafka. `through` says what the canary proves in this procedure.
 */
export function canarySteps(p: CanaryPath, through?: { slot?: string; readBack?: string }) {
  return {
    canaryWrite: plannedStep(
      'canary-write',
      'verifying',
      `INSERT INTO public.rekey_canary (marker) VALUES ('rekey-<run>')`,
      `DELETE FROM public.rekey_canary WHERE marker = 'rekey-<run>'`,
    ),
    slotAdvanced: plannedStep(
      'slot-advanced',
      'verifying',
      `wait until ${p.slot}.confirmed_flush_lsn passes the canary's LSN${through?.slot ? ` (${through.slot})` : ''}`,
    ),
    canaryReadBack: plannedStep(
      'canary-read-back',
      'verifying',
      `read ${p.canaryTopic} from the switch on until a record carries the canary marker${through?.readBack ? `: ${through.readBack}` : ''}`,
    ),
  };
}

export type CanarySteps = ReturnType<typeof canarySteps>;

type Activities = ReturnType<typeof procedureActivities>;

/**
 * Runs the canary steps: the row is written (its deletion on record as the compensation), the
 * slot must confirm past its LSN and the event must arrive in the topic, read from `sinceMs`
 * (default: 5 s before now, so a fast connector is not missed). Stops at a rollback after it.
 */
export async function proveByCanary(
  r: Rotation,
  acts: Pick<Activities, 'change' | 'wait' | 'undo'>,
  o: { steps: CanarySteps; path: CanaryPath; marker: string; sinceMs?: number },
): Promise<void> {
  const { steps, path, marker } = o;
  const since = o.sinceMs ?? Date.now() - 5_000;
  const canary = await r.change(steps.canaryWrite, {
    run: () => acts.change.writeCanary({ marker }),
    undo: () => acts.undo.removeCanary({ marker }),
    show: (c) => `at ${c.lsn}`,
  });
  await r.wait(
    steps.slotAdvanced.name,
    () => acts.wait.waitSlotPast({ slot: path.slot, lsn: canary.lsn, timeoutMs: CANARY_TIMEOUT_MS }),
    (s) => `confirmed_flush_lsn ${s.confirmedFlushLsn}`,
  );
  await r.wait(
    steps.canaryReadBack.name,
    () => acts.wait.awaitCanaryEvent({ topic: path.canaryTopic, marker, sinceMs: since, timeoutMs: CANARY_TIMEOUT_MS }),
    (e) => `partition ${e.partition} offset ${e.offset}`,
  );
  r.checkpoint('canary-read-back');
}
