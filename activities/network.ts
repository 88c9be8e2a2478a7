import { lookup } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import { fail, list, pass, runCheck, skip, type CheckResult } from './checks.js';
import { checklist } from '../contracts/checklist.js';

export interface Endpoint {
  /** What it is: postgresql, kafka, kafka-connect, schema-registry, aws, kubernetes. */
  service: string;
  host: string;
  port: number;
}

/** `http://h:p/…` or `h:p` as an endpoint; the scheme's port when none is given. */
export function endpointOf(service: string, address: string): Endpoint {
  const url = new URL(/^[a-z]+:\/\//.test(address) ? address : `tcp://${address}`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { service, host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function tcpConnect(e: Endpoint, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.setTimeout(timeoutMs);
    s.once('connect', () => {
      s.destroy();
      resolve(Date.now() - t0);
    });
    s.once('timeout', () => {
      s.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    });
    s.once('error', (err) => reject(err));
    s.connect(e.port, e.host);
  });
}

/** From the worker's side: each configured service accepts a TCP connection, each configured host name resolves. */
export function createNetworkValidation(deps: { endpoints: () => Endpoint[] }) {
  async function validateNetworkReachability(): Promise<CheckResult[]> {
    const lines = checklist.network;
    const endpoints = deps.endpoints();
    const where = list(endpoints.map((e) => `${e.service} ${e.host}:${e.port}`));
    return [
      await runCheck(
        'network',
        lines.connectivity,
        `TCP connect to ${where}`,
        'every configured service accepts a connection',
        async () => {
          const results = await Promise.all(
            endpoints.map((e) =>
              tcpConnect(e, 5000).then(
                (ms) => ({ e, ok: true, what: `${ms} ms` }),
                (err: Error) => ({ e, ok: false, what: err.message }),
              ),
            ),
          );
          const saw = results.map((r) => `${r.e.service} ${r.ok ? 'open' : 'FAILED'} (${r.what})`).join('; ');
          return results.every((r) => r.ok) && results.length > 0 ? pass(saw) : fail(saw || 'no endpoints configured');
        },
      ),
      await runCheck(
        'network',
        lines.dns,
        `getaddrinfo for the host names of ${where}`,
        'every host name resolves',
        async () => {
          const names = [...new Set(endpoints.map((e) => e.host).filter((h) => isIP(h) === 0))];
          if (names.length === 0)
            return skip(
              `every configured address is an IP literal (${list([...new Set(endpoints.map((e) => e.host))])}): no name to resolve`,
            );
          const results = await Promise.all(
            names.map((n) =>
              lookup(n, { all: true }).then(
                (a) => ({ n, ok: true, what: a.map((x) => x.address).join(' ') }),
                (err: Error & { code?: string }) => ({ n, ok: false, what: err.code ?? err.message }),
              ),
            ),
          );
          const saw = results.map((r) => `${r.n} → ${r.what}`).join('; ');
          return results.every((r) => r.ok) ? pass(saw) : fail(saw);
        },
      ),
    ];
  }

  return { validateNetworkReachability };
}
