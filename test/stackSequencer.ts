import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The stack lane's order: vitest's own, except that files which change the whole stack for
 * everyone after them run last. certificateLifecycle rotates the stack CA: services outside
 * its scope (Connect's and the registry's HTTPS) keep certificates from the old CA, so an
 * HTTPS client trusting "the stack CA" (tlsClients) fails after it.
 */
const last = ['test/e2e/certificateLifecycle.test.ts'];

export class StackSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isLast = (f: TestSpecification) => last.some((l) => f.moduleId.endsWith(l));
    return [...sorted.filter((f) => !isLast(f)), ...sorted.filter(isLast)];
  }
}
