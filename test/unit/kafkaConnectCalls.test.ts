import { describe, expect, it } from 'vitest';
import { createKafkaConnectActivities } from '../../activities/kafkaConnect.js';

/** A Connect REST API that answers from a script of statuses, one per call. */
function scripted(statuses: number[]) {
  const calls: string[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push(`${init?.method ?? 'GET'} ${String(url)}`);
    const status = statuses.shift() ?? 200;
    const body =
      status === 200
        ? JSON.stringify({ name: 'c', connector: { state: 'RUNNING' }, tasks: [{ id: 0, state: 'RUNNING' }] })
        : `{"error_code":${status},"message":"Cannot complete request momentarily due to stalled rebalance"}`;
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('Kafka Connect REST calls', () => {
  it('ride out a 409 (rebalance in progress) like a 5xx, then succeed', async () => {
    const api = scripted([409, 409, 200]);
    const connect = createKafkaConnectActivities({ url: 'http://connect.invalid:8083', fetch: api.fetch });
    await expect(connect.connectorStatus({ connector: 'c' })).resolves.toMatchObject({ state: 'RUNNING' });
    expect(api.calls).toHaveLength(3);
  }, 20_000);

  it('fail at once on 400 (not transient), naming the status', async () => {
    const api = scripted([400]);
    const connect = createKafkaConnectActivities({ url: 'http://connect.invalid:8083', fetch: api.fetch });
    await expect(connect.connectorStatus({ connector: 'c' })).rejects.toThrow(/answered HTTP 400/);
    expect(api.calls).toHaveLength(1);
  });
});
