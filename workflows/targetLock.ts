import { condition } from '@temporalio/workflow';

/**
 * Held by a running rotation as a child with id `<procedure>/<target>/lock`.
 * The server refuses a second child with the same id, so two rotations of one
 * target cannot overlap. Terminated with its parent (ParentClosePolicy.TERMINATE).
 */
export async function targetLock(_input: { holder: string }): Promise<void> {
  await condition(() => false);
}
