import fs from 'node:fs/promises';
import os from 'node:os';

/** Memory headroom of the machine the pipeline runs on (the runbook's "available memory > 20%"). */
export function createHostActivities(deps: { nodesUnderMemoryPressure?: () => Promise<string[]> } = {}) {
  /** Memory of this machine, and on Kubernetes the nodes whose kubelet reports MemoryPressure. */
  async function memoryHeadroom(): Promise<{ availablePercent: number; availableBytes: number; totalBytes: number; nodesUnderPressure: string[] }> {
    const total = os.totalmem();
    let available = os.freemem();
    try {
      const match = /^MemAvailable:\s+(\d+) kB/m.exec(await fs.readFile('/proc/meminfo', 'utf8'));
      if (match) available = Number(match[1]) * 1024;
    } catch {
      // not Linux: os.freemem() is the best estimate
    }
    const nodesUnderPressure = deps.nodesUnderMemoryPressure ? await deps.nodesUnderMemoryPressure() : [];
    return { availablePercent: Math.round((available / total) * 1000) / 10, availableBytes: available, totalBytes: total, nodesUnderPressure };
  }
  return { memoryHeadroom };
}
