import http from 'node:http';
import https from 'node:https';

/** The `fetch` subset rekey's REST clients use (method, headers, string body, signal). */
export type Fetch = typeof fetch;

/**
 * A `fetch` that trusts exactly `caPem` for https:// URLs (a private CA bundle, as
 * `curl --cacert` does: the system roots are not consulted). Without a CA it is the global
 * fetch. Node's built-in fetch takes no CA option, hence this small client on node:https.
 * `caPem` may be a reader, called per request: the worker's CA file is a mounted Secret that a
 * CA rotation changes under it (the new CA is added to the bundle before any service serves a
 * certificate from it), and a bundle read once at start would refuse those certificates.
 */
export function fetchTrusting(caPem?: string | (() => string)): Fetch {
  if (!caPem) return fetch;
  const current = typeof caPem === 'function' ? caPem : () => caPem;
  // one agent per bundle: a bundle that changed (a CA rotation updated the mounted file) gets a new one
  let agent: { pem: string; agent: https.Agent } | undefined;
  const agentFor = () => {
    const pem = current();
    if (agent?.pem !== pem) {
      agent?.agent.destroy();
      agent = { pem, agent: new https.Agent({ ca: pem, keepAlive: true }) };
    }
    return agent.agent;
  };
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const body =
      typeof init.body === 'string'
        ? init.body
        : init.body == null
          ? undefined
          : String(init.body as unknown as string);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          ...(url.protocol === 'https:' ? { agent: agentFor() } : {}),
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
            const status = res.statusCode ?? 500;
            // a Response may not carry a body with these statuses
            const payload = [204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
            resolve(new Response(payload, { status, statusText: res.statusMessage, headers: h }));
          });
        },
      );
      // the same shape as fetch's network errors, so callers' messages stay alike
      req.on('error', (err) => reject(new TypeError(`fetch failed: ${err.message}`, { cause: err })));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }) as Fetch;
}

/** host and port of an https:// URL (the TLS endpoint a handshake checks); undefined for http://. */
export function httpsEndpoint(url: string): { host: string; port: number } | undefined {
  const u = new URL(url);
  if (u.protocol !== 'https:') return undefined;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 443) };
}

/**
 * A `fetch` that sends HTTP basic authentication with the credential `credentials()` returns,
 * read for each request: a rotated credential is used from the next request on, no restart.
 */
export function withBasicAuth(base: Fetch, credentials: () => Promise<{ username: string; password: string }>): Fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const { username, password } = await credentials();
    const headers = new Headers(init.headers);
    headers.set('authorization', `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`);
    return base(input, { ...init, headers });
  }) as Fetch;
}
