import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { afterStackSideFiles } from './laneFiles.js';

/**
 * The stack lane's order: vitest's own, except that the files the side lane cannot run beside
 * (`afterStackSideFiles`) come near the end, and files which disturb the whole stack run
 * last, in this order. The fault matrix restarts the Temporal server and PostgreSQL: at the
 * end, the stack-side lane (which `npm test` runs beside the first part of this one) is done
 * by then. certificateLifecycle rotates the stack CA: services outside its scope (Connect's
 * and the registry's HTTPS) keep certificates from the old CA, so an HTTPS client trusting
 * "the stack CA" (tlsClients) fails after it.
 */
const last = [...afterStackSideFiles, 'test/e2e/faultMatrix.test.ts', 'test/e2e/certificateLifecycle.test.ts'];

export class StackSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => last.findIndex((l) => f.moduleId.endsWith(l));
    return [...sorted.filter((f) => rank(f) < 0), ...last.flatMap((_, i) => sorted.filter((f) => rank(f) === i))];
  }
}
