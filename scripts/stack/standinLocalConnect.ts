import type { ConnectWorkerRuntime } from '../../activities/kafkaConnect.js';
import { loadStackConfig } from './config.js';
import { connect } from './connect.js';

/**
 * The embedded stack's Kafka Connect is a local process: restarting the worker means
 * stopping and starting that process, as deleting the pod does on Kubernetes.
 */
export function localConnectWorker(env: NodeJS.ProcessEnv = process.env): ConnectWorkerRuntime {
  const cfg = loadStackConfig(env);
  return {
    async restart(onProgress) {
      onProgress('stopping Kafka Connect worker');
      await connect.stop(cfg);
      onProgress('starting Kafka Connect worker');
      const beat = setInterval(() => onProgress('waiting for Kafka Connect worker'), 5000);
      try {
        await connect.start(cfg);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
