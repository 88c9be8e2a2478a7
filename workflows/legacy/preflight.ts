/** Facts gathered by read-only activities before a rotation changes anything. */
export interface PreflightFacts {
  walLevel: string;
  maxReplicationSlots: number;
  slot: { name: string; exists: boolean; active: boolean; lagBytes: number | null };
  lagSeconds: { write: number | null; flush: number | null; replay: number | null };
  streamingUser: string | null;
  currentSecretUser: string;
  connector: { state: string; tasks: Array<{ id: number; state: string }> };
  memoryAvailablePercent: number;
  /** Kubernetes nodes reporting MemoryPressure (absent when not on Kubernetes). */
  nodesUnderMemoryPressure?: string[];
}

export interface PreflightLimits {
  maxLagBytes: number;
  maxLagSeconds: number;
  minFreeMemoryPercent: number;
}

export interface CheckResult {
  check: string;
  ok: boolean;
  seen: string;
  expected: string;
}

/** Every check of the runbook's pre-flight, each with what it saw and what it needed. */
export function evaluatePreflight(f: PreflightFacts, l: PreflightLimits): CheckResult[] {
  const lagSeconds = Math.max(f.lagSeconds.write ?? 0, f.lagSeconds.flush ?? 0, f.lagSeconds.replay ?? 0);
  const notRunning = f.connector.tasks.filter((t) => t.state !== 'RUNNING');
  return [
    { check: 'wal_level', ok: f.walLevel === 'logical', seen: f.walLevel, expected: 'logical' },
    {
      check: 'max_replication_slots',
      ok: f.maxReplicationSlots >= 4,
      seen: String(f.maxReplicationSlots),
      expected: '>= 4',
    },
    {
      check: 'slot exists',
      ok: f.slot.exists,
      seen: f.slot.exists ? 'present' : 'absent',
      expected: `slot ${f.slot.name} present`,
    },
    { check: 'slot active', ok: f.slot.active, seen: f.slot.active ? 'active' : 'inactive', expected: 'active' },
    {
      check: 'lag bytes',
      ok: f.slot.lagBytes !== null && f.slot.lagBytes <= l.maxLagBytes,
      seen: f.slot.lagBytes === null ? 'unknown' : `${f.slot.lagBytes} B`,
      expected: `<= ${l.maxLagBytes} B`,
    },
    {
      check: 'lag seconds',
      ok: lagSeconds <= l.maxLagSeconds,
      seen: `${lagSeconds.toFixed(3)} s`,
      expected: `<= ${l.maxLagSeconds} s`,
    },
    { check: 'connector running', ok: f.connector.state === 'RUNNING', seen: f.connector.state, expected: 'RUNNING' },
    {
      check: 'tasks running',
      ok: f.connector.tasks.length > 0 && notRunning.length === 0,
      seen: f.connector.tasks.length === 0 ? 'no tasks' : f.connector.tasks.map((t) => `${t.id}:${t.state}`).join(','),
      expected: 'every task RUNNING',
    },
    {
      check: 'streaming user matches secret',
      ok: f.streamingUser !== null && f.streamingUser === f.currentSecretUser,
      seen: f.streamingUser ?? 'nobody streaming',
      expected: f.currentSecretUser,
    },
    {
      check: 'free memory',
      ok: f.memoryAvailablePercent >= l.minFreeMemoryPercent,
      seen: `${f.memoryAvailablePercent}%`,
      expected: `>= ${l.minFreeMemoryPercent}%`,
    },
    {
      check: 'node memory pressure',
      ok: (f.nodesUnderMemoryPressure ?? []).length === 0,
      seen: (f.nodesUnderMemoryPressure ?? []).join(',') || 'none',
      expected: 'no node under MemoryPressure',
    },
  ];
}
