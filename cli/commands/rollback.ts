import type { Command } from 'commander';
import type { RollbackAccepted } from '../../workflows/rotation/definitions.js';
import { operator, withClient } from '../context.js';

type Outcome =
  | ({ outcome: 'accepted' } & RollbackAccepted)
  | { outcome: 'refused'; reason: string }
  | { outcome: 'signalled'; note: string };

/**
 * `rekey rollback`: the rollback Update, so the operator learns at once whether it was taken
 * and which wait it stopped. A run from before the Update existed (no handler) gets the
 * signal instead, and the answer says so.
 */
export function registerRollbackCommand(program: Command): void {
  program
    .command('rollback <workflowId>')
    .description(
      'undo the rotation (any time before cleanup); answers at once whether it was accepted, stopping the wait in flight',
    )
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print {"outcome":"accepted"|"refused"|"signalled",…}')
    .action(async (id: string, o: { reason: string; json?: boolean }) => {
      const request = { reason: o.reason, by: operator };
      const { WorkflowUpdateFailedError } = await import('@temporalio/client');
      const { requestRollbackUpdate, rollbackSignal } = await import('../../workflows/rotation/definitions.js');
      const result: Outcome = await withClient(async (client) => {
        const handle = client.workflow.getHandle(id);
        try {
          return {
            outcome: 'accepted' as const,
            ...(await handle.executeUpdate(requestRollbackUpdate, { args: [request] })),
          };
        } catch (err) {
          if (!(err instanceof WorkflowUpdateFailedError)) throw err;
          const reason = (err.cause as Error | undefined)?.message ?? err.message;
          if (!/no registered handler|unknown update/i.test(reason)) return { outcome: 'refused' as const, reason };
          await handle.signal(rollbackSignal, request);
          return {
            outcome: 'signalled' as const,
            note: 'this run predates the rollback Update: the rollback signal was sent; it acts at the next checkpoint',
          };
        }
      });
      if (o.json) console.log(JSON.stringify(result));
      else if (result.outcome === 'accepted') {
        const stopped = result.interrupts ? `stopped ${result.interrupts}; ` : '';
        console.log(
          `rollback accepted in phase ${result.phase}: ${stopped}will undo ${result.willUndo.join(', ') || 'nothing (no change made yet)'} (newest first). Follow it: rekey progress ${id}`,
        );
      } else if (result.outcome === 'refused')
        console.error(`rollback refused: ${result.reason.replace(/^rollback refused: /, '')}`);
      else console.log(`${result.note}. Follow it: rekey progress ${id}`);
      if (result.outcome === 'refused') process.exitCode = 1;
    });
}
