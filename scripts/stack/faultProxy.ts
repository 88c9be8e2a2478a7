import http from 'node:http';
import net from 'node:net';
import { proxiedServices, type ProxiedService, type StackConfig } from './config.js';

/**
 * What a proxy does to the traffic right now:
 * - `pass`: forwards both ways;
 * - `refuse`: the service is down — new connections are closed at once, open ones are cut;
 * - `blackhole`: connections are accepted and nothing comes back (clients run into their timeouts);
 * - `delay`: every chunk is forwarded `ms` later;
 * - `http-error` (HTTP services): requests whose `METHOD path` matches answer `status`, the rest pass.
 */
export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'refuse' }
  | { kind: 'blackhole' }
  | { kind: 'delay'; ms: number }
  | { kind: 'http-error'; status: number; match?: RegExp };

interface Stats {
  connections: number;
  refused: number;
  httpErrors: number;
}

/**
 * A small TCP proxy in front of one stack service, controlled from the test or bench process
 * that started it. A mode change applies at once: connections opened before a fault are cut
 * (a failing service or a failover does the same), so keep-alive clients cannot slip past it.
 */
export class FaultProxy {
  mode: FaultMode = { kind: 'pass' };
  readonly stats: Stats = { connections: 0, refused: 0, httpErrors: 0 };
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private readonly http: http.Server;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {
    this.server = net.createServer((client) => this.accept(client));
    this.http = http.createServer((req, res) => this.answerHttp(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    this.dropConnections();
    this.http.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Switches the fault; entering or leaving refuse, blackhole or http-error cuts the connections already open. */
  set(mode: FaultMode): void {
    const previous = this.mode.kind;
    this.mode = mode;
    const healthy = (k: FaultMode['kind']) => k === 'pass' || k === 'delay';
    // a healed blackhole cuts too: its clients would otherwise wait on a connection that lost bytes
    if (!(healthy(mode.kind) && healthy(previous))) this.dropConnections();
  }

  /** `mode` for `ms`, then `pass` again (resolves when healed). */
  async during(mode: FaultMode, ms: number): Promise<void> {
    this.set(mode);
    await new Promise((r) => setTimeout(r, ms));
    this.set({ kind: 'pass' });
  }

  /** Cuts every open connection (e.g. PostgreSQL's session of a worker, a watch on the API server). */
  dropConnections(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    client.on('error', () => undefined);
    if (this.mode.kind === 'refuse') {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.open.add(client);
    client.once('close', () => this.open.delete(client));
    if (this.mode.kind === 'blackhole') {
      client.on('data', () => undefined); // swallowed: the client waits for an answer that never comes
      return;
    }
    if (this.mode.kind === 'http-error') {
      this.http.emit('connection', client);
      return;
    }
    this.pipe(client);
  }

  private pipe(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    this.open.add(upstream);
    upstream.once('close', () => {
      this.open.delete(upstream);
      client.destroy();
    });
    client.once('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /** Chunk by chunk, so a delay set later applies to connections already open; order is kept. */
  private forward(from: net.Socket, to: net.Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk) => {
      const mode = this.mode;
      if (mode.kind === 'delay') {
        from.pause();
        chain = chain
          .then(() => new Promise<void>((r) => setTimeout(r, mode.ms)))
          .then(() => {
            if (!to.destroyed) to.write(chunk);
            from.resume();
          });
      } else {
        chain = chain.then(() => {
          if (!to.destroyed) to.write(chunk);
        });
      }
    });
    from.once('end', () => void chain.then(() => to.end()));
  }

  /** http-error mode: matching requests get the error, others are forwarded one by one. */
  private answerHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const mode = this.mode;
    const line = `${req.method} ${req.url}`;
    if (mode.kind === 'http-error' && (!mode.match || mode.match.test(line))) {
      this.stats.httpErrors++;
      const body = JSON.stringify({
        error_code: mode.status,
        message: `fault proxy ${this.name}: injected ${mode.status}`,
      });
      res.writeHead(mode.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
      return;
    }
    const upstream = http.request(
      {
        host: this.target.host,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}

export type FaultProxies = Record<ProxiedService, FaultProxy>;

/** The proxied port of a service: `cfg.ports.proxyBase` + its index in `proxiedServices`. */
export const proxyPort = (cfg: StackConfig, service: ProxiedService) =>
  cfg.ports.proxyBase + proxiedServices.indexOf(service);

const upstreamPort = (cfg: StackConfig, service: ProxiedService) => cfg.ports[service];

/** One proxy per proxied service, all in pass mode. */
export async function startFaultProxies(cfg: StackConfig): Promise<FaultProxies> {
  const entries = await Promise.all(
    proxiedServices.map(
      async (s) =>
        [
          s,
          await new FaultProxy(s, proxyPort(cfg, s), { host: '127.0.0.1', port: upstreamPort(cfg, s) }).start(),
        ] as const,
    ),
  );
  return Object.fromEntries(entries) as FaultProxies;
}

export async function stopFaultProxies(proxies: FaultProxies | undefined): Promise<void> {
  if (proxies) await Promise.all(Object.values(proxies).map((p) => p.stop()));
}

/** Every proxy back to `pass` (a cell's fault must not outlive it). */
export function healAll(proxies: FaultProxies): void {
  for (const p of Object.values(proxies)) p.set({ kind: 'pass' });
}
