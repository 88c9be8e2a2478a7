import type { StackConfig } from '../stack/config.js';
import { connectorStore } from '../stack/connect.js';
import { usePipelineStore, type PipelineStore } from '../stack/pipelineStore.js';
import { demoServices, up } from '../stack/stack.js';

export const pipelineStores = ['file', 'kubernetes'] as const;

export function parseStore(value: string): PipelineStore {
  if (!(pipelineStores as readonly string[]).includes(value))
    throw new Error(`--store must be file or kubernetes, not ${value}`);
  return value as PipelineStore;
}

/**
 * Brings up what a rotation on `store` needs (`services`, plus the Kubernetes control plane
 * and the kubelet when the Secrets live there or the pipeline must be moved back from them),
 * then points the pipeline at `store`.
 */
export async function upWithStore(
  stack: StackConfig,
  store: PipelineStore,
  log: (line: string) => void,
  services: string[] | 'all' = demoServices,
): Promise<void> {
  const needsKube = store === 'kubernetes' || connectorStore(stack) !== 'file';
  await up(stack, log, {
    only: services === 'all' ? undefined : needsKube ? [...services, 'kubernetes', 'kubelet'] : services,
  });
  await usePipelineStore(stack, store);
}
