import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { Kafka } from 'kafkajs';
import { describeScramUsers } from '../../activities/kafkaScram.js';
import { credentialStarters } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { kafkaCaFile, kafkaSaslBootstrap } from '../../scripts/stack/kafkaPrincipals.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { recordHistory, recording } from './histories.js';
import { cfg, failureOf, stopLeftover, store } from './pipeline.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

/**
 * The Connect worker's SCRAM principal (the platform plan's KAFKA_SASL_PASSWORD) rotated on the
 * secured stack, under CDC load: every client of the worker (its own, and each connector's
 * producer, consumer and admin) must move to the new principal with no event lost, and the
 * old principal must be refused by the broker afterwards.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
beforeAll(async () => {
  w = await startTestWorker(recording ? { codec: { keyId: 'none', insecureNoEncryption: true } } : {});
});
afterEach(async () => {
  await stopLeftover(running);
  running = undefined;
});
afterAll(async () => {
  await w?.stop();
});

const principal = async () =>
  (await store.read(pipeline.connectSaslSecret))!.data as { username: string; password: string };
const admin = { brokers: [kafkaBootstrap(cfg)] };
/** The broker's answer to a login, as any client of the SASL_SSL listener gets it. */
async function login(p: { username: string; password: string }): Promise<string> {
  const client = new Kafka({
    brokers: [kafkaSaslBootstrap(cfg)],
    ssl: { ca: [fs.readFileSync(kafkaCaFile(cfg), 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', username: p.username, password: p.password },
    retry: { retries: 0 },
  }).admin();
  try {
    await client.connect();
    return 'accepted';
  } catch (err) {
    return (err as Error).name === 'KafkaJSSASLAuthenticationError' ? 'refused' : (err as Error).message;
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}
const connectorStates = async () => {
  const s = (await (
    await connectFetch(`http://127.0.0.1:${cfg.ports.connect}/connectors/${pipeline.connector}/status`)
  ).json()) as { connector: { state: string }; tasks: Array<{ state: string }> };
  return [s.connector.state, ...s.tasks.map((t) => t.state)];
};

async function rotate(input: Record<string, unknown>) {
  const db = await adminClient(cfg, pipeline.database);
  return underLoad({ db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40 }, async () => {
    const handle = await credentialStarters['kafka-scram'](
      w.client,
      { target: 'ecommerce', requestedBy: 'e2e', ...input },
      { taskQueue: w.taskQueue, now: new Date() },
    );
    running = handle;
    const result = (await handle.result().catch(() => undefined)) as RotationResult | undefined;
    running = undefined;
    return { handle, result };
  }).finally(() => db.end());
}

describe('Kafka SCRAM principal rotation on the secured stack', () => {
  it('moves the Connect worker to a new principal under CDC load: 0 lost, 0 duplicates; the old principal is refused and gone', async () => {
    const old = await principal();
    expect(await login(old)).toBe('accepted');
    const run = await rotate({ gracePeriod: 'PT1S' });
    const events = summarize(run.emails, run.deliveries);
    console.info(`kafka-scram rotation: ${JSON.stringify(events)}`);
    const result = run.result.result!;
    expect(result.status).toBe('completed');
    expect(result.from).toBe(old.username);
    const now = await principal();
    expect(now.username).toBe(result.to);
    expect(events.lost).toBe(0);
    expect(events.duplicates).toBe(0);
    // the broker's side: the old credential is gone and refused, the new one is the only one of the two
    const users = (await describeScramUsers(admin, null)).map((u) => u.user);
    expect(users).toContain(now.username);
    expect(users).not.toContain(old.username);
    expect(await login(old)).toBe('refused');
    expect(await login(now)).toBe('accepted');
    expect(await connectorStates()).toEqual(['RUNNING', 'RUNNING']);
    await recordHistory(run.result.handle, 'other-kafka-scram-completed');
  });

  it('rolls back under load when a drill fails it after the canary: the worker is back on the old principal, the new one is gone; 0 lost', async () => {
    const old = await principal();
    const run = await rotate({ gracePeriod: 'PT1S', injectFailure: 'canary-read-back' });
    const cause = await failureOf(run.result.handle);
    expect(cause?.type).toBe('RotationRolledBack');
    expect(summarize(run.emails, run.deliveries).lost).toBe(0);
    expect((await principal()).username).toBe(old.username);
    const users = (await describeScramUsers(admin, null)).map((u) => u.user);
    expect(users.filter((u) => u.startsWith('kafka-connect'))).toEqual([old.username]);
    expect(await login(old)).toBe('accepted');
    expect(await connectorStates()).toEqual(['RUNNING', 'RUNNING']);
    expect(await store.read(`${pipeline.connectSaslSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.connectSaslSecret}-backup`)).toBeUndefined();
  });
});
