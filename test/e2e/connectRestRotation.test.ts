import { getProperties } from 'properties-file';
import { describe, expect, it } from 'vitest';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { recordHistory } from './histories.js';
import { cfg, failureOf, store } from './pipeline.js';
import { rotationHarness } from './rotationHarness.js';

/**
 * Kafka Connect's REST credential (the platform plan's KAFKA_CONNECT_PASSWORD) rotated on the
 * secured stack, under CDC load: the worker restarts twice (to accept both users, to drop the
 * old one), and no change event may be lost; afterwards any client sending the old user gets
 * 401 and the new one 200, with every connector and task RUNNING.
 */
const rotations = rotationHarness('connect-rest', 'ecommerce');

type Credential = { username: string; password: string; 'users.properties': string };
const credential = async () => (await store.read(pipeline.connectRestSecret))!.data as Credential;

/** What Connect's REST API answers a client sending `c`, over plain HTTP and over HTTPS alike. */
async function statusFor(c: { username: string; password: string }): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${cfg.ports.connect}/connectors?expand=status`, {
    headers: { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` },
  });
  await res.body?.cancel();
  return res.status;
}

/** Every connector's and task's state, as the new credential reads them. */
async function states(c: { username: string; password: string }): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${cfg.ports.connect}/connectors?expand=status`, {
    headers: { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` },
  });
  const body = (await res.json()) as Record<
    string,
    { status: { connector: { state: string }; tasks: Array<{ state: string }> } }
  >;
  return Object.values(body).flatMap((x) => [x.status.connector.state, ...x.status.tasks.map((t) => t.state)]);
}

async function rotate(input: Record<string, unknown>) {
  const db = await adminClient(cfg, pipeline.database);
  return underLoad({ db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40 }, () =>
    rotations.rotate(input),
  ).finally(() => db.end());
}

describe('Kafka Connect REST credential rotation on the secured stack', () => {
  it('moves the clients to a new user under CDC load: 0 lost, 0 duplicates; the old user gets 401, the new one 200, every connector RUNNING', async () => {
    const old = await credential();
    expect(await statusFor(old)).toBe(200);
    const started = Date.now();
    const run = await rotate({ gracePeriod: 'PT1S' });
    const events = summarize(run.emails, run.deliveries);
    console.info(`connect-rest rotation: ${JSON.stringify({ ...events, seconds: (Date.now() - started) / 1000 })}`);
    const result = run.result!.result!;
    expect(result.status).toBe('completed');
    expect(result.from).toBe(old.username);
    const now = await credential();
    expect(now.username).toBe(result.to);
    expect(events.lost).toBe(0);
    expect(events.duplicates).toBe(0);
    expect(await statusFor(old)).toBe(401);
    expect(await statusFor(now)).toBe(200);
    // the users file Connect mounts lists the new user alone (read as java.util.Properties reads it)
    expect(getProperties(now['users.properties'])).toEqual({ [now.username]: now.password });
    const all = await states(now);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(new Set(all)).toEqual(new Set(['RUNNING']));
    expect(await store.read(`${pipeline.connectRestSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.connectRestSecret}-backup`)).toBeUndefined();
    await recordHistory(run.result!.handle, 'other-connect-rest-completed');
  });

  it('rolls back under load when a drill fails it after the switch: the old user back in the secret and the only one accepted; 0 lost', async () => {
    const old = await credential();
    const run = await rotate({ gracePeriod: 'PT1S', injectFailure: 'promote' });
    const cause = await failureOf(run.result!.handle);
    expect(cause?.type).toBe('RotationRolledBack');
    expect(summarize(run.emails, run.deliveries).lost).toBe(0);
    expect(await credential()).toEqual(old);
    expect(await statusFor(old)).toBe(200);
    expect(new Set(await states(old))).toEqual(new Set(['RUNNING']));
    expect(await store.read(`${pipeline.connectRestSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.connectRestSecret}-backup`)).toBeUndefined();
  });
});
