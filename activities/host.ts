import fs from 'node:fs/promises';
import os from 'node:os';
import type { ConnectPodsMemory } from './kubernetes.js';

export interface MemoryHeadroom {
  availablePercent: number;
  availableBytes: number;
  totalBytes: number;
  /** Always empty now: node conditions are no longer read (kept for histories that recorded it). */
  nodesUnderPressure: string[];
  /** On Kubernetes: the Kafka Connect pods' own memory health (the host's figures are then the rekey worker's, not Connect's). */
  connectPods?: ConnectPodsMemory;
}

/** Memory headroom where the pipeline runs (the runbook's "available memory > 20%"). */
export function createHostActivities(deps: { connectPodsMemory?: () => Promise<ConnectPodsMemory> } = {}) {
  /** Without Kubernetes Connect runs beside the worker: this machine's memory. On Kubernetes: the Connect pods. */
  async function memoryHeadroom(): Promise<MemoryHeadroom> {
    const total = os.totalmem();
    let available = os.freemem();
    try {
      const match = /^MemAvailable:\s+(\d+) kB/m.exec(await fs.readFile('/proc/meminfo', 'utf8'));
      if (match) available = Number(match[1]) * 1024;
    } catch {
      // not Linux: os.freemem() is the best estimate
    }
    const connectPods = deps.connectPodsMemory ? await deps.connectPodsMemory() : undefined;
    return {
      availablePercent: Math.round((available / total) * 1000) / 10,
      availableBytes: available,
      totalBytes: total,
      nodesUnderPressure: [],
      ...(connectPods ? { connectPods } : {}),
    };
  }
  return { memoryHeadroom };
}
