import http from 'node:http';
import type { NativeConnection, Worker } from '@temporalio/worker';

/** What `/readyz` and `/livez` answer, as JSON: enough for `kubectl describe pod` to say why. */
export interface HealthReport {
  ready: boolean;
  live: boolean;
  /** The SDK worker's run state (RUNNING, STOPPING, FAILED…) and its pollers'. */
  worker: string;
  pollers: { workflow: string; activity: string };
  temporal: string;
  activities: { inFlight: number };
  workflowTasks: { inFlight: number };
}

type WorkerLike = Pick<Worker, 'getStatus'>;
type ConnectionLike = Pick<NativeConnection, 'healthService'>;

/**
 * The worker's own health, for Kubernetes probes: `/livez` fails once the worker has failed or
 * stopped (a restart helps); `/readyz` also fails while it is not polling or Temporal does not
 * answer its gRPC health check (a worker that lost Temporal is not Ready). The Temporal check is
 * cached for `cacheMs` so probes never pile up calls.
 */
export function healthReporter(
  worker: WorkerLike,
  connection: ConnectionLike,
  opts: { cacheMs?: number; timeoutMs?: number } = {},
) {
  let temporal = { at: 0, answer: 'not checked yet', ok: false };
  async function checkTemporal(): Promise<typeof temporal> {
    if (Date.now() - temporal.at < (opts.cacheMs ?? 5_000)) return temporal;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`no answer within ${(opts.timeoutMs ?? 3_000) / 1000} s`)),
        opts.timeoutMs ?? 3_000,
      ).unref(),
    );
    try {
      const res = await Promise.race([connection.healthService.check({}), timeout]);
      const ok = res.status === 1; // SERVING
      temporal = { at: Date.now(), ok, answer: ok ? 'serving' : `health status ${res.status}` };
    } catch (err) {
      temporal = { at: Date.now(), ok: false, answer: `unreachable: ${(err as Error).message.split('\n')[0]}` };
    }
    return temporal;
  }

  return async function report(): Promise<HealthReport> {
    const s = worker.getStatus();
    const t = await checkTemporal();
    const live = !['FAILED', 'STOPPED'].includes(s.runState);
    const polling = s.workflowPollerState === 'POLLING' && s.activityPollerState === 'POLLING';
    return {
      ready: live && s.runState === 'RUNNING' && polling && t.ok,
      live,
      worker: s.runState,
      pollers: { workflow: s.workflowPollerState, activity: s.activityPollerState },
      temporal: t.answer,
      activities: { inFlight: s.numInFlightActivities },
      workflowTasks: { inFlight: s.numInFlightWorkflowActivations },
    };
  };
}

/** Serves `/livez` and `/readyz` (200 or 503, the report as JSON) on `host:port`. */
export async function startHealthServer(address: string, report: () => Promise<HealthReport>): Promise<http.Server> {
  const at = address.lastIndexOf(':');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/livez' && path !== '/readyz') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /livez or /readyz\n');
      return;
    }
    report().then(
      (r) =>
        res
          .writeHead((path === '/livez' ? r.live : r.ready) ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify(r)}\n`),
      (err: Error) =>
        res.writeHead(503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ error: err.message })}\n`),
    );
  });
  await new Promise<void>((resolve, reject) =>
    server
      .once('error', reject)
      .listen(Number(address.slice(at + 1)), address.slice(0, at).replace(/^\[|\]$/g, ''), resolve),
  );
  return server;
}
