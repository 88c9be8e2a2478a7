import { describe, expect, it } from 'vitest';
import { evaluatePreflight, type PreflightFacts } from '../../workflows/postgresCdc/preflight.js';

const healthy: PreflightFacts = {
  walLevel: 'logical',
  maxReplicationSlots: 10,
  slot: { name: 'debezium_slot', exists: true, active: true, lagBytes: 1024 },
  lagSeconds: { write: 0.1, flush: 0.5, replay: 0.5 },
  streamingUser: 'debezium_a',
  currentSecretUser: 'debezium_a',
  connector: { state: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] },
  binding: {
    slot: 'debezium_slot',
    credentialRefs: [
      '${dir:/etc/secrets/debezium-credentials:db-username}',
      '${dir:/etc/secrets/debezium-credentials:db-password}',
    ],
  },
  memoryAvailablePercent: 60,
};
const limits = {
  slot: 'debezium_slot',
  secret: 'debezium-credentials',
  maxLagBytes: 1 << 20,
  maxLagSeconds: 30,
  minFreeMemoryPercent: 20,
};
const failing = (f: Partial<PreflightFacts>) =>
  evaluatePreflight({ ...healthy, ...f }, limits)
    .filter((c) => !c.ok)
    .map((c) => `${c.check}=${c.seen}`);

describe('pre-flight', () => {
  it('passes a healthy pipeline', () => expect(failing({})).toEqual([]));
  it('names each failed check with the value seen', () => {
    expect(failing({ walLevel: 'replica' })).toEqual(['wal_level=replica']);
    expect(failing({ maxReplicationSlots: 2 })).toEqual(['max_replication_slots=2']);
    expect(failing({ slot: { ...healthy.slot, lagBytes: 5 << 20 } })).toEqual([`lag bytes=${5 << 20} B`]);
    expect(failing({ lagSeconds: { write: 1, flush: 45, replay: null } })).toEqual(['lag seconds=45.000 s']);
    expect(failing({ connector: { state: 'RUNNING', tasks: [{ id: 0, state: 'FAILED' }] } })).toEqual([
      'tasks running=0:FAILED',
    ]);
    expect(failing({ streamingUser: 'debezium_old' })).toEqual(['streaming user matches secret=debezium_old']);
    expect(failing({ memoryAvailablePercent: 12.5 })).toEqual(['free memory=12.5%']);
    expect(failing({ nodesUnderMemoryPressure: ['node-a'] })).toEqual(['node memory pressure=node-a']);
  });
  it('ties the slot and the secret to the connector (one secret, one slot, one workflow id)', () => {
    expect(failing({ binding: { ...healthy.binding, slot: 'other_slot' } })).toEqual([
      'connector reads the slot=other_slot',
    ]);
    expect(failing({ binding: { slot: 'debezium_slot', credentialRefs: [] } })).toEqual([
      'connector reads the secret=(no config-provider reference)',
    ]);
    expect(
      failing({
        binding: { slot: 'debezium_slot', credentialRefs: ['${secrets:data-ingestion/other-credentials:db-password}'] },
      }),
    ).toEqual(['connector reads the secret=${secrets:data-ingestion/other-credentials:db-password}']);
    // a secret whose name only starts with the configured one is not it
    expect(
      failing({
        binding: {
          slot: 'debezium_slot',
          credentialRefs: ['${secrets:data-ingestion/debezium-credentials-old:db-password}'],
        },
      }),
    ).toHaveLength(1);
    expect(
      failing({
        binding: {
          slot: 'debezium_slot',
          credentialRefs: ['${secrets:data-ingestion/debezium-credentials:db-password}'],
        },
      }),
    ).toEqual([]);
  });
  it('refuses reload-connector on Kubernetes when Connect reads a projected Secret volume, not the API', () => {
    const onKube = (strategy: string, refs: string[]) =>
      evaluatePreflight(
        { ...healthy, secretStore: 'kubernetes', binding: { slot: 'debezium_slot', credentialRefs: refs } },
        { ...limits, strategy },
      )
        .filter((c) => !c.ok)
        .map((c) => c.check);
    const volume = [
      '${dir:/etc/secrets/debezium-credentials:db-username}',
      '${dir:/etc/secrets/debezium-credentials:db-password}',
    ];
    const api = [
      '${secrets:data-ingestion/debezium-credentials:db-username}',
      '${secrets:data-ingestion/debezium-credentials:db-password}',
    ];
    expect(onKube('reload-connector', volume)).toEqual(['strategy fits how Connect reads the secret']);
    expect(onKube('reload-connector', api)).toEqual([]);
    // a new pod mounts the current Secret: restart-worker works with either
    expect(onKube('restart-worker', volume)).toEqual([]);
    // the file store is read directly: no projection delay
    expect(
      evaluatePreflight({ ...healthy, secretStore: 'file' }, { ...limits, strategy: 'reload-connector' }).filter(
        (c) => !c.ok,
      ),
    ).toEqual([]);
  });
  it('on Kubernetes checks the Connect pods` memory, not the worker host`s', () => {
    const pods = { pods: 1, oomKilled: [], evicted: [], notReady: [] };
    // the worker host may be tight: on Kubernetes it is not where Connect runs
    expect(failing({ memoryAvailablePercent: 3, connectPods: pods })).toEqual([]);
    expect(failing({ connectPods: { ...pods, oomKilled: ['kafka-connect-abc'] } })).toEqual([
      'Connect pods memory=kafka-connect-abc OOMKilled',
    ]);
    expect(failing({ connectPods: { ...pods, evicted: ['kafka-connect-abc'] } })).toEqual([
      'Connect pods memory=kafka-connect-abc evicted',
    ]);
    expect(failing({ connectPods: { ...pods, pods: 0 } })).toEqual(['Connect pods memory=no kafka-connect pods']);
  });
});
