import fs from 'node:fs';
import net from 'node:net';

/**
 * The embedded stack's stand-in for a Kubernetes Service in front of a two-replica registry:
 * a TCP balancer on the registry's addresses (HTTP and HTTPS, passed through untouched) that
 * spreads connections over the live replicas. A replica taken out of the live set gets no new
 * connection, and its idle keep-alive connections move to a live one (plain HTTP) or are closed
 * (TLS), as a Service stops routing to a pod that is no longer Ready; it is stopped only then. A connection that cannot reach its
 * replica tries the next one, so a client never sees a replica restart. Run as its own process by the stack
 * (`node --import tsx registryBalancer.ts <control file>`); the control file is re-read when
 * it changes.
 */
export interface BalancerControl {
  routes: Array<{ listen: number; backends: number[] }>;
  /** Indexes into each route's backends that take new connections; the others are drained. */
  live: number[];
}

export function writeBalancerControl(file: string, control: BalancerControl): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(control));
  fs.renameSync(tmp, file);
}

export function readBalancerControl(file: string): BalancerControl {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BalancerControl;
}

/** Opens a connection to the first backend of `order` (indexes into `ports`) that accepts one. */
function connectFirst(
  ports: number[],
  order: number[],
  done: (backend: { socket: net.Socket; index: number } | null) => void,
): void {
  const [index, ...rest] = order;
  if (index === undefined) return done(null);
  const socket = net.connect({ host: '127.0.0.1', port: ports[index]! });
  socket.once('connect', () => {
    socket.removeAllListeners('error');
    done({ socket, index });
  });
  socket.once('error', () => {
    socket.destroy();
    connectFirst(ports, rest, done);
  });
}

/** One client connection and the replica it is pinned to; who spoke last tells an idle keep-alive connection from a request in flight. */
interface Pinned {
  client: net.Socket;
  backend: net.Socket;
  index: number;
  lastFrom: 'client' | 'backend';
  lastAt: number;
  /** Client bytes held while the connection moves to another replica. */
  held: Buffer[] | null;
}

/** A connection to a drained replica is moved (plain HTTP) or closed (TLS) once idle: its last answer delivered, no request begun. */
const IDLE_MS = 20;

/** Forwards the replica's bytes to the client while it is the connection's replica. */
function attach(p: Pinned, backend: net.Socket): void {
  backend.on('data', (chunk) => {
    if (p.backend !== backend) return;
    Object.assign(p, { lastFrom: 'backend', lastAt: Date.now() });
    p.client.write(chunk);
  });
  backend.on('error', () => backend.destroy());
  backend.on('close', () => {
    if (p.backend === backend && p.held === null) p.client.destroy();
  });
}

/**
 * Moves an idle plain-HTTP keep-alive connection to a live replica: HTTP/1.1 carries no state
 * between requests (basic auth is sent with each), so the client's next request simply goes to
 * the new replica, and the client never sees its connection closed under a request it is sending.
 * A TLS session belongs to its replica: that connection is closed instead, while idle.
 */
function move(p: Pinned, ports: number[], live: number[], plain: boolean): void {
  if (!plain) return void p.client.end();
  p.held = [];
  connectFirst(ports, live, (next) => {
    const old = p.backend;
    if (!next) return p.client.destroy();
    Object.assign(p, { backend: next.socket, index: next.index });
    attach(p, next.socket);
    for (const chunk of p.held ?? []) next.socket.write(chunk);
    p.held = null;
    old.destroy();
  });
}

function serve(controlFile: string): void {
  let control = readBalancerControl(controlFile);
  let stamp = fs.statSync(controlFile).mtimeMs;
  let turn = 0;
  const open = new Map<Pinned, number>();
  setInterval(() => {
    const now = fs.statSync(controlFile).mtimeMs;
    if (now !== stamp) {
      stamp = now;
      control = readBalancerControl(controlFile);
    }
    for (const [p, r] of open) {
      if (
        control.live.includes(p.index) ||
        p.held !== null ||
        p.lastFrom !== 'backend' ||
        Date.now() - p.lastAt < IDLE_MS
      )
        continue;
      move(p, control.routes[r]!.backends, control.live, r === 0);
    }
  }, 25).unref();
  control.routes.forEach((_, r) => {
    const server = net.createServer((client) => {
      client.pause();
      const { backends } = control.routes[r]!;
      const indexes = backends.map((_, i) => i);
      const live = indexes.filter((i) => control.live.includes(i));
      const first = turn++ % Math.max(live.length, 1);
      // the drained ones last: better a replica that is shutting down than no answer at all
      const order = [
        ...live.slice(first),
        ...live.slice(0, first),
        ...indexes.filter((i) => !control.live.includes(i)),
      ];
      connectFirst(backends, order, (backend) => {
        if (!backend) return client.destroy();
        const p: Pinned = {
          client,
          backend: backend.socket,
          index: backend.index,
          lastFrom: 'backend',
          lastAt: Date.now(),
          held: null,
        };
        open.set(p, r);
        attach(p, backend.socket);
        client.on('data', (chunk) => {
          Object.assign(p, { lastFrom: 'client', lastAt: Date.now() });
          if (p.held) p.held.push(chunk);
          else p.backend.write(chunk);
        });
        client.on('error', () => client.destroy());
        client.on('close', () => {
          open.delete(p);
          p.backend.destroy();
        });
        client.resume();
      });
    });
    server.listen(control.routes[r]!.listen, '127.0.0.1');
  });
}

if (process.argv[1] && import.meta.filename === fs.realpathSync(process.argv[1])) serve(process.argv[2]!);
