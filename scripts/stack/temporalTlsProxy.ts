import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { CA_KEYS, issueCertificate } from '../../activities/tls/index.js';
import { pipeline, type StackConfig } from './config.js';
import { ensureStackCertificates } from './tls.js';

/**
 * A TLS-terminating, client-certificate-checking proxy in front of the stack's Temporal dev
 * server (which speaks plaintext only): what a TLS Temporal cluster looks like to rekey. gRPC
 * rides on the piped bytes (HTTP/2, ALPN h2). Dev and test only.
 */
export interface TemporalTlsProxy {
  address: string;
  port: number;
  /** PEM files a client uses: the stack CA (server root), and a client certificate + key signed by it (0600). */
  files: { ca: string; clientCert: string; clientKey: string };
  /** Handshakes refused (e.g. no client certificate). */
  refused: () => number;
  close(): Promise<void>;
}

/** Writes the proxy's client identity (mTLS) for rekey: certificate and key signed by the stack CA, in `<stack>/data/temporal-tls`. */
async function clientFiles(cfg: StackConfig, caPem: { certPem: string; keyPem: string }) {
  const dir = path.join(cfg.dataDir, 'temporal-tls');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    ca: path.join(dir, 'ca.crt'),
    clientCert: path.join(dir, 'client.crt'),
    clientKey: path.join(dir, 'client.key'),
  };
  const client = await issueCertificate({
    ca: caPem,
    commonName: 'rekey-worker',
    sans: ['DNS:rekey-worker'],
    validityDays: 30,
    usage: 'client',
  });
  fs.writeFileSync(files.ca, caPem.certPem, { mode: 0o600 });
  fs.writeFileSync(files.clientCert, client.certPem, { mode: 0o600 });
  fs.writeFileSync(files.clientKey, client.keyPem, { mode: 0o600 });
  return files;
}

/** Starts the proxy on `port` (0: any free port) in this process. */
export async function startTemporalTlsProxy(cfg: StackConfig, opts: { port?: number } = {}): Promise<TemporalTlsProxy> {
  await ensureStackCertificates(cfg);
  const ca = (await new FileSecretStore(cfg.secretsDir).read(pipeline.caSecret))!;
  const caPem = { certPem: ca.data[CA_KEYS.cert]!, keyPem: ca.data[CA_KEYS.key]! };
  const server = await issueCertificate({
    ca: caPem,
    commonName: 'temporal',
    sans: ['DNS:localhost', 'IP:127.0.0.1'],
    validityDays: 30,
  });
  const files = await clientFiles(cfg, caPem);
  let refused = 0;
  const sockets = new Set<net.Socket>();
  const proxy = tls.createServer(
    {
      key: server.keyPem,
      cert: server.certPem,
      ca: caPem.certPem,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (client) => {
      const upstream = net.connect(cfg.ports.temporal, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
      }
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    },
  );
  proxy.on('tlsClientError', () => refused++);
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (proxy.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    files,
    refused: () => refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  };
}
