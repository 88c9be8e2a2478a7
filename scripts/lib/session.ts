import path from 'node:path';
import { loadStackConfig, type StackConfig } from '../stack/config.js';
import { ensureCodecKey } from '../stack/codec.js';
import { loadWorkerConfig, type WorkerConfig } from '../../workers/config.js';

/**
 * Worker configuration for the embedded stack: the payload codec key is generated
 * once into the stack folder (mode 0600) unless REKEY_CODEC_KEY is set.
 */
export function embeddedWorkerConfig(env: NodeJS.ProcessEnv = process.env): { stack: StackConfig; config: WorkerConfig } {
  const stack = loadStackConfig(env);
  const keyFile = env.REKEY_CODEC_KEY || env.REKEY_CODEC_KEY_FILE ? path.join(stack.dir, 'codec.key') : ensureCodecKey(stack);
  const config = loadWorkerConfig({ REKEY_CODEC_KEY_FILE: env.REKEY_CODEC_KEY ? undefined : keyFile, ...env });
  return { stack, config };
}

export const uiLink = (stack: StackConfig, workflowId: string) =>
  `http://127.0.0.1:${stack.ports.temporalUi}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
