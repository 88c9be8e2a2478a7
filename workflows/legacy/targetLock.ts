import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const releaseLockSignal = defineSignal('release');

/**
 * Held by a running rotation as a child with id `<procedure>/<target>/lock`.
 * The server refuses a second child with the same id, so two rotations of one
 * target cannot overlap. Released by its parent when the rotation ends; should the
 * parent die first, ParentClosePolicy.TERMINATE ends it.
 */
export async function targetLock(_input: { holder: string }): Promise<void> {
  let released = false;
  setHandler(releaseLockSignal, () => {
    released = true;
  });
  await condition(() => released);
}
