import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesClient, loadKubernetesClient } from '../../activities/kubernetesClient.js';
import { type AccessLogMark, createRegistryAccessLogActivities } from '../../activities/registryAccessLog.js';
import { podLogReader } from '../../activities/registryPodLogs.js';

const line = (user: string, status = 200) => `access "GET /apis/ccompat/v7/subjects HTTP/1.1" ${status} ${user}`;

describe('registry access log: a file (REKEY_REGISTRY_ACCESS_LOG=file:)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-access-log-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts per user only the requests logged after the mark', async () => {
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(file, `${line('old')}\n${line('new')}\n`);
    const log = createRegistryAccessLogActivities({ accessLog: `file:${file}` });
    const mark = (await log.registryAccessLogMark())!;
    expect(mark).toEqual({ source: `file ${file}`, offset: fs.statSync(file).size });
    fs.appendFileSync(
      file,
      `${line('new')}\n${line('new', 401)}\n${line('old')}\nnot an access line\n${line('-', 401)}\n`,
    );
    expect(await log.registryRequestsBy({ users: ['old', 'new', 'constructor'], from: mark })).toEqual({
      source: `file ${file}`,
      requests: { old: 1, new: 2, constructor: 0 },
      lines: 4,
    });
  });

  it('reads a log that shrank (rotated or truncated) from its start', async () => {
    const file = path.join(dir, 'rotated.log');
    fs.writeFileSync(file, `${line('old')}\n`.repeat(50));
    const log = createRegistryAccessLogActivities({ accessLog: `file:${file}` });
    const mark = (await log.registryAccessLogMark())!;
    fs.writeFileSync(file, `${line('old')}\n${line('new')}\n`);
    expect((await log.registryRequestsBy({ users: ['old', 'new'], from: mark })).requests).toEqual({ old: 1, new: 1 });
  });

  it('without a configured log there is no mark and nothing is counted (the proof is skipped)', async () => {
    const log = createRegistryAccessLogActivities({});
    expect(await log.registryAccessLogMark()).toBeNull();
    expect(await log.registryRequestsBy({ users: ['old'], from: { source: 'stub', offset: 0 } })).toEqual({
      source: 'none',
      requests: { old: 0 },
      lines: 0,
    });
  });
});

interface Seen {
  path: string;
  query: URLSearchParams;
  authorization?: string;
}

/** RFC3339Nano as the kubelet writes it: `ms` on the worker's clock plus `nanos`, in UTC or at a zone offset. */
function stamp(ms: number, nanos = 0, offsetMinutes = 0): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const fraction = String((ms % 1000) * 1_000_000 + nanos).padStart(9, '0');
  const zone =
    offsetMinutes === 0
      ? 'Z'
      : `${offsetMinutes > 0 ? '+' : '-'}${String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMinutes) % 60).padStart(2, '0')}`;
  return `${local}.${fraction}${zone}`;
}

/**
 * The API server's two endpoints the pods source calls, on 127.0.0.1: the pod list by label
 * selector and each pod's log. Each log is built from the mark the test took (`logs`), so lines
 * fall just before, at and after it.
 */
class FakeApiServer {
  readonly seen: Seen[] = [];
  pods: unknown[] = [];
  logs: Record<string, string> = {};
  forbidLogs = false;
  private server = http.createServer((req, res) => this.answer(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop = () => new Promise<void>((resolve) => this.server.close(() => resolve()));

  private answer(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://api');
    this.seen.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/api/v1/namespaces/data-ingestion/pods')
      return json(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.pods });
    const log = /^\/api\/v1\/namespaces\/data-ingestion\/pods\/([^/]+)\/log$/.exec(url.pathname);
    if (log && this.forbidLogs) {
      const message = `pods "${log[1]}" is forbidden: User "system:serviceaccount:data-ingestion:rekey-worker" cannot get resource "pods/log" in API group "" in the namespace "data-ingestion"`;
      return json(403, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message,
        reason: 'Forbidden',
        code: 403,
      });
    }
    const key = log && `${log[1]}${url.searchParams.get('previous') === 'true' ? ' previous' : ''}`;
    if (key && key in this.logs) return res.writeHead(200, { 'content-type': 'text/plain' }).end(this.logs[key]);
    json(404, {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: 'not found',
      reason: 'NotFound',
      code: 404,
    });
  }
}

const pod = (name: string, containers: string[], status?: Record<string, unknown>) => ({
  metadata: { name, namespace: 'data-ingestion', labels: { app: 'schema-registry' } },
  spec: { containers: containers.map((c) => ({ name: c, image: 'apicurio/apicurio-registry:3.3.3' })) },
  status: status
    ? {
        phase: 'Running',
        containerStatuses: [{ name: containers[0], ready: true, restartCount: 0, image: '', imageID: '', ...status }],
      }
    : { phase: 'Pending' },
});

describe('registry access log: the pods (REKEY_REGISTRY_ACCESS_LOG=pods:), through the Kubernetes API', () => {
  const api = new FakeApiServer();
  let kubeConfig: KubeConfig;

  beforeAll(async () => {
    const server = await api.start();
    await loadKubernetesClient();
    kubeConfig = new (kubernetesClient().KubeConfig)();
    kubeConfig.loadFromOptions({
      // plain http to 127.0.0.1: the client allows it only with skipTLSVerify (there is no TLS to verify)
      clusters: [{ name: 'test', server, skipTLSVerify: true }],
      users: [{ name: 'rekey-worker', token: 'secret-sa-token' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'rekey-worker' }],
      currentContext: 'test',
    });
  });
  afterAll(() => api.stop());

  /** The activities, and a mark whose time every fake log is built around. */
  async function marked(accessLog: string) {
    const log = createRegistryAccessLogActivities({ accessLog, kubeConfig });
    const mark = (await log.registryAccessLogMark())!;
    api.seen.length = 0;
    return { log, mark, ms: Date.parse(mark.since!) };
  }

  it('lists the pods by selector, reads each log since the mark with timestamps, and counts only the lines after the mark', async () => {
    const { log, mark, ms } = await marked('pods:data-ingestion/app=schema-registry');
    expect(mark).toEqual({
      source: 'pods data-ingestion/app=schema-registry',
      offset: 0,
      since: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    const restartedAt = new Date(ms + 2_000).toISOString();
    api.pods = [
      pod('registry-0', ['registry', 'istio-proxy'], { state: { running: { startedAt: '2024-01-01T00:00:00Z' } } }),
      pod('registry-1', ['registry'], {
        restartCount: 1,
        state: { running: { startedAt: restartedAt } },
        lastState: { terminated: { exitCode: 137, finishedAt: restartedAt, containerID: 'containerd://a' } },
      }),
      pod('registry-2', ['registry']), // Pending: no container started, no log to ask for
    ];
    api.logs = {
      'registry-0': [
        `${stamp(ms - 1)} ${line('old')}`, // the second sinceTime covers, before the mark
        `${stamp(ms)} ${line('old')}`, // at the mark
        `${stamp(ms, 1)} ${line('old')}`, // a nanosecond after it
        `${stamp(ms + 5, 0, 120)} ${line('new')}`, // a node whose clock writes +02:00
        `${stamp(ms + 6)} not an access line`,
        `${stamp(ms + 7)} ${line('new', 401)}`,
        `${stamp(ms + 8)} ${line('sr-developer-2')}`.slice(0, -2), // cut by limitBytes: no newline, not counted
      ].join('\n'),
      'registry-1': `${stamp(ms + 3_000)} ${line('new')}\n`,
      'registry-1 previous': `${stamp(ms - 500)} ${line('old')}\n${stamp(ms + 1_000)} ${line('old')}\n`,
    };
    const got = await log.registryRequestsBy({ users: ['old', 'new', 'sr-developer'], from: mark });
    expect(got).toEqual({
      source: 'pods data-ingestion/app=schema-registry',
      requests: { old: 2, new: 3, 'sr-developer': 0 },
      lines: 5,
    });

    const sinceTime = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const [list, ...logs] = api.seen;
    expect(list).toMatchObject({
      path: '/api/v1/namespaces/data-ingestion/pods',
      authorization: 'Bearer secret-sa-token',
    });
    expect(list!.query.get('labelSelector')).toBe('app=schema-registry');
    expect(logs.map((s) => [s.path, s.query.get('container'), s.query.get('previous')])).toEqual([
      ['/api/v1/namespaces/data-ingestion/pods/registry-0/log', 'registry', null],
      ['/api/v1/namespaces/data-ingestion/pods/registry-1/log', 'registry', null],
      ['/api/v1/namespaces/data-ingestion/pods/registry-1/log', 'registry', 'true'],
    ]);
    for (const s of logs) {
      expect(Object.fromEntries(s.query)).toMatchObject({
        timestamps: 'true',
        sinceTime,
        limitBytes: String(64 * 1024 * 1024),
      });
      expect(s.authorization).toBe('Bearer secret-sa-token');
    }
  });

  it('reads the named container when the source names one', async () => {
    const { log, mark, ms } = await marked('pods:data-ingestion/app=schema-registry:registry');
    api.pods = [
      {
        ...pod('registry-0', ['istio-proxy', 'registry']),
        status: {
          phase: 'Running',
          containerStatuses: [
            { name: 'registry', ready: true, restartCount: 0, image: '', imageID: '', state: { running: {} } },
          ],
        },
      },
    ];
    api.logs = { 'registry-0': `${stamp(ms + 1)} ${line('new')}\n` };
    expect((await log.registryRequestsBy({ users: ['new'], from: mark })).requests).toEqual({ new: 1 });
    expect(api.seen[1]?.query.get('container')).toBe('registry');
    // a misspelt container must not skip every pod and read as "no request"
    const typo = await marked('pods:data-ingestion/app=schema-registry:registy');
    await expect(typo.log.registryRequestsBy({ users: ['new'], from: typo.mark })).rejects.toThrow(
      /pod registry-0 has no container registy \(it has istio-proxy, registry\)/,
    );
  });

  it('a 403 names what to grant (list pods, get pods/log), never the token; no matching pod is an error, not a clean bill', async () => {
    const { log, mark } = await marked('pods:data-ingestion/app=schema-registry');
    api.pods = [pod('registry-0', ['registry'], { state: { running: {} } })];
    api.forbidLogs = true;
    const forbidden = await log.registryRequestsBy({ users: ['old'], from: mark }).then(
      () => undefined,
      (e: unknown) => e as Error & { nonRetryable?: boolean; type?: string },
    );
    api.forbidLogs = false;
    expect(forbidden?.message).toMatch(
      /forbidden: cannot get pods\/registry-0\/log in namespace data-ingestion .*"list" on pods and "get" on pods\/log in namespace data-ingestion/,
    );
    expect(forbidden).toMatchObject({ nonRetryable: true, type: 'KubernetesAccess' });
    expect(forbidden?.message).not.toContain('secret-sa-token');

    api.pods = [];
    await expect(log.registryRequestsBy({ users: ['old'], from: mark })).rejects.toThrow(
      /no pod in namespace data-ingestion matches app=schema-registry/,
    );
  });

  it('a mark without a time (a file mark, or one recorded before the pods source) is refused, not read from the start', async () => {
    const { log } = await marked('pods:data-ingestion/app=schema-registry');
    const recorded: AccessLogMark = { source: 'file /var/log/registry/access.log', offset: 1234 };
    await expect(log.registryRequestsBy({ users: ['old'], from: recorded })).rejects.toThrow(
      /mark was taken from file \/var\/log\/registry\/access\.log.*REKEY_REGISTRY_ACCESS_LOG changed/,
    );
    expect(api.seen).toEqual([]);
  });

  it('asks for at most the cap (limitBytes) and says which pod reached it', async () => {
    const { mark, ms } = await marked('pods:data-ingestion/app=schema-registry');
    api.pods = [pod('registry-0', ['registry'], { state: { running: {} } })];
    api.logs = { 'registry-0': `${stamp(ms + 1)} ${line('old')}\n${stamp(ms + 2)} ${line('old')}\n` };
    const got = await podLogReader(
      { namespace: 'data-ingestion', selector: 'app=schema-registry' },
      kubeConfig,
      100,
    ).since(mark.since!);
    expect(got).toEqual({ lines: [line('old'), line('old')], capped: ['registry-0'] });
    expect(api.seen[1]?.query.get('limitBytes')).toBe('100');
  });

  it('without a cluster the pods source refuses with the settings to make', async () => {
    const log = createRegistryAccessLogActivities({ accessLog: 'pods:data-ingestion/app=schema-registry' });
    const mark = (await log.registryAccessLogMark())!;
    await expect(log.registryRequestsBy({ users: ['old'], from: mark })).rejects.toMatchObject({
      message: expect.stringMatching(/needs the Kubernetes API.*REKEY_K8S_NAMESPACE/),
      nonRetryable: true,
      type: 'NoKubernetes',
    });
  });
});
