import { check, type CheckResult } from '../rotation/preflight.js';

/** Facts gathered by read-only activities before a rotation changes anything. */
export interface PreflightFacts {
  walLevel: string;
  maxReplicationSlots: number;
  slot: { name: string; exists: boolean; active: boolean; lagBytes: number | null };
  lagSeconds: { write: number | null; flush: number | null; replay: number | null };
  streamingUser: string | null;
  currentSecretUser: string;
  connector: { state: string; tasks: Array<{ id: number; state: string }> };
  /** What the connector's configuration reads: its slot, and the config-provider references of its credential. */
  binding: { slot: string | null; credentialRefs: string[] };
  memoryAvailablePercent: number;
  /** Kubernetes nodes reporting MemoryPressure (recorded by earlier runs; no longer read). */
  nodesUnderMemoryPressure?: string[];
  /** On Kubernetes, the Kafka Connect pods' memory health: then the host's free memory is the rekey worker's, not Connect's. */
  connectPods?: { pods: number; oomKilled: string[]; evicted: string[]; notReady: string[] };
  /** The store the worker writes (`file`, `kubernetes`); absent in runs recorded before it was reported. */
  secretStore?: string;
}

export interface PreflightLimits {
  slot: string;
  secret: string;
  maxLagBytes: number;
  maxLagSeconds: number;
  minFreeMemoryPercent: number;
  strategy?: string;
}

/** A config-provider reference names the secret as a path segment or object name (`${dir:…/<secret>:key}`, `${secrets:ns/<secret>:key}`). */
const refersTo = (ref: string, secret: string) => new RegExp(`[/:]${secret.replace(/\./g, '\\.')}:`).test(ref);

/** Every check of the runbook's pre-flight, each with what it saw and what it needed. */
export function evaluatePreflight(f: PreflightFacts, l: PreflightLimits): CheckResult[] {
  const lagSeconds = Math.max(f.lagSeconds.write ?? 0, f.lagSeconds.flush ?? 0, f.lagSeconds.replay ?? 0);
  const pressure = f.nodesUnderMemoryPressure ?? [];
  return [
    check('wal_level', f.walLevel === 'logical', f.walLevel, 'logical'),
    check('max_replication_slots', f.maxReplicationSlots >= 4, String(f.maxReplicationSlots), '>= 4'),
    check('slot exists', f.slot.exists, f.slot.exists ? 'present' : 'absent', `slot ${f.slot.name} present`),
    check('slot active', f.slot.active, f.slot.active ? 'active' : 'inactive', 'active'),
    check(
      'lag bytes',
      f.slot.lagBytes !== null && f.slot.lagBytes <= l.maxLagBytes,
      f.slot.lagBytes === null ? 'unknown' : `${f.slot.lagBytes} B`,
      `<= ${l.maxLagBytes} B`,
    ),
    check('lag seconds', lagSeconds <= l.maxLagSeconds, `${lagSeconds.toFixed(3)} s`, `<= ${l.maxLagSeconds} s`),
    check('connector running', f.connector.state === 'RUNNING', f.connector.state, 'RUNNING'),
    check(
      'tasks running',
      f.connector.tasks.length > 0 && f.connector.tasks.every((t) => t.state === 'RUNNING'),
      f.connector.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'no tasks',
      'every task RUNNING',
    ),
    // The rotation is keyed on the secret; these two tie the slot to it, so two targets that
    // name one slot must name one secret too (and so one workflow id).
    check('connector reads the slot', f.binding.slot === l.slot, f.binding.slot ?? '(none)', l.slot),
    check(
      'connector reads the secret',
      f.binding.credentialRefs.length > 0 && f.binding.credentialRefs.every((r) => refersTo(r, l.secret)),
      f.binding.credentialRefs.join(', ') || '(no config-provider reference)',
      `references to ${l.secret}`,
    ),
    strategyFits(f, l),
    check(
      'streaming user matches secret',
      f.streamingUser !== null && f.streamingUser === f.currentSecretUser,
      f.streamingUser ?? 'nobody streaming',
      f.currentSecretUser,
    ),
    ...memoryChecks(f, l, pressure),
  ];
}

/**
 * `reload-connector` restarts tasks so the config provider reads the secret again. On
 * Kubernetes that works only when the provider reads the API (`${secrets:…}`): a
 * `${dir:…}`/`${file:…}` reference reads a Secret volume the kubelet refreshes 1–2 minutes
 * later, so the tasks would come back with the old password.
 */
function strategyFits(f: PreflightFacts, l: PreflightLimits): CheckResult {
  const name = 'strategy fits how Connect reads the secret';
  if (f.secretStore !== 'kubernetes' || l.strategy !== 'reload-connector')
    return {
      check: name,
      ok: true,
      seen: `${f.secretStore ?? 'unknown'} store, ${l.strategy ?? 'unknown'}`,
      expected: 'any',
    };
  const fromVolume = f.binding.credentialRefs.filter((r) => !r.startsWith('${secrets:'));
  return {
    check: name,
    ok: fromVolume.length === 0,
    seen:
      fromVolume.length === 0
        ? 'read from the Kubernetes API (${secrets:…})'
        : `read from a projected volume (${fromVolume.join(', ')})`,
    expected:
      'reload-connector on Kubernetes needs ${secrets:<ns>/<secret>:<key>} (Strimzi provider); otherwise use restart-worker',
  };
}

/** Without Kubernetes, Connect shares this host: its free memory. On Kubernetes, the Connect pods themselves. */
function memoryChecks(f: PreflightFacts, l: PreflightLimits, pressure: string[]): CheckResult[] {
  const pods = f.connectPods;
  if (!pods) {
    return [
      {
        check: 'free memory',
        ok: f.memoryAvailablePercent >= l.minFreeMemoryPercent,
        seen: `${f.memoryAvailablePercent}%`,
        expected: `>= ${l.minFreeMemoryPercent}%`,
      },
      {
        check: 'node memory pressure',
        ok: pressure.length === 0,
        seen: pressure.join(',') || 'none',
        expected: 'no node under MemoryPressure',
      },
    ];
  }
  const trouble = [
    ...pods.oomKilled.map((p) => `${p} OOMKilled`),
    ...pods.evicted.map((p) => `${p} evicted`),
    ...pods.notReady.map((p) => `${p} not Ready`),
  ];
  return [
    {
      check: 'Connect pods memory',
      ok: pods.pods > 0 && trouble.length === 0,
      seen:
        pods.pods === 0
          ? 'no kafka-connect pods'
          : trouble.join(', ') || `${pods.pods} pod(s) Ready, none OOMKilled or evicted`,
      expected: 'every kafka-connect pod Ready, none OOMKilled or evicted (a restart would not survive memory trouble)',
    },
  ];
}
