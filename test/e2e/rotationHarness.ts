import { afterAll, afterEach, beforeAll } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import type { CredentialProcedureId } from '../../contracts/procedures.js';
import { credentialStarters } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { recordingOverrides } from './histories.js';
import { kubeNamespace, serviceAccountKubeconfig } from '../../scripts/stack/kube.js';
import { cfg, stopLeftover } from './pipeline.js';

/**
 * One e2e file's test worker (recording histories unencrypted when asked) and a way to run a
 * credential rotation on it to its end: a run a failed test left behind is stopped after it.
 */
export function rotationHarness(procedure: CredentialProcedureId, target: string) {
  let w: TestWorker | undefined;
  let running: WorkflowHandle | undefined;
  beforeAll(async () => {
    w = await startTestWorker(recordingOverrides);
  });
  afterEach(async () => {
    await stopLeftover(running);
    running = undefined;
  });
  afterAll(async () => {
    await w?.stop();
  });
  return {
    get worker(): TestWorker {
      return w!;
    },
    /** Starts the rotation as the CLI does and waits for its end: its result, or undefined when it failed. */
    async rotate(input: Record<string, unknown>): Promise<{ handle: WorkflowHandle; result?: RotationResult }> {
      const handle = await credentialStarters[procedure](
        w!.client,
        { target, requestedBy: 'e2e', ...input },
        { taskQueue: w!.taskQueue, now: new Date() },
      );
      running = handle;
      const result = (await handle.result().catch(() => undefined)) as RotationResult | undefined;
      running = undefined;
      return { handle, result };
    },
  };
}

/**
 * A test worker as rekey runs in the cluster: the rekey-worker ServiceAccount (deploy/rbac.yaml
 * and the admission policy, not the admin), Secrets and workloads through the API; recording
 * histories unencrypted when asked.
 */
export async function startServiceAccountWorker(): Promise<TestWorker> {
  const asWorker = await serviceAccountKubeconfig(cfg, 'rekey-worker');
  return startTestWorker({
    secrets: { kind: 'kubernetes', namespace: kubeNamespace, kubeconfig: asWorker },
    kubernetes: { namespace: kubeNamespace, kubeconfig: asWorker },
    ...recordingOverrides,
  });
}
