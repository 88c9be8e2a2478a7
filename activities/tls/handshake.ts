import { isIP, Socket } from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';

/** `postgres`: the PostgreSQL wire protocol's SSLRequest comes first; `tls`: TLS from the first byte (Kafka's SSL listener, HTTPS). */
export type TlsProtocol = 'postgres' | 'tls';

export interface HandshakeRequest {
  host: string;
  port: number;
  protocol: TlsProtocol;
  /** The name clients connect with: checked against the served certificate's SANs (an IP literal against its IP SANs). */
  servername: string;
  /** PEM of the CA bundle clients trust; absent: the chain is not judged. */
  caPem?: string;
  timeoutMs?: number;
}

/** What a client sees in the handshake: the served certificate's identity and whether it would accept it. */
export interface ServedCertificate {
  fingerprint: string;
  subject: string;
  issuer: string;
  notAfter: string;
  /** The chain validates against the CA (false when no CA was given). */
  trusted: boolean;
  /** The host name (or IP) matches a SAN. */
  hostnameOk: boolean;
  /** Why it is not trusted or the name does not match; null when both pass. */
  problem: string | null;
  tlsVersion: string | null;
}

/** PostgreSQL's SSLRequest: length 8, code 1234.5679 (80877103). */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

function openSocket(req: HandshakeRequest, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    const fail = (err: Error) => {
      s.destroy();
      reject(err);
    };
    s.setTimeout(timeoutMs, () => fail(new Error(`no answer from ${req.host}:${req.port} within ${timeoutMs} ms`)));
    s.once('error', fail);
    s.connect(req.port, req.host, () => {
      if (req.protocol === 'tls') return resolve(s);
      s.write(SSL_REQUEST);
      s.once('data', (b: Buffer) => {
        // 'S': go on with TLS on this socket; 'N': the server does not serve TLS (ssl=off)
        if (b[0] === 0x53 && b.length === 1) return resolve(s);
        fail(
          new Error(
            b[0] === 0x4e
              ? `PostgreSQL at ${req.host}:${req.port} refuses TLS (answered N to SSLRequest: ssl is off)`
              : `unexpected answer 0x${b.toString('hex').slice(0, 8)} to SSLRequest from ${req.host}:${req.port}`,
          ),
        );
      });
    });
  });
}

/**
 * A real TLS handshake with the service, as a client would do it: the served certificate's
 * SHA-256 fingerprint, whether its chain validates against the CA, and whether it names the
 * host. The connection is closed right after the handshake; nothing is sent over it.
 */
export async function handshake(req: HandshakeRequest): Promise<ServedCertificate> {
  const timeoutMs = req.timeoutMs ?? 10_000;
  const socket = await openSocket(req, timeoutMs);
  socket.setTimeout(0);
  return new Promise((resolve, reject) => {
    const t = tls.connect({
      socket,
      // SNI takes host names only
      ...(isIP(req.servername) ? {} : { servername: req.servername }),
      ...(req.caPem ? { ca: req.caPem } : {}),
      // judged below and reported, never refused here: the caller learns which check failed
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => {
      t.destroy();
      reject(new Error(`TLS handshake with ${req.host}:${req.port} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    t.once('error', (err) => {
      clearTimeout(timer);
      t.destroy();
      reject(new Error(`TLS handshake with ${req.host}:${req.port} failed: ${err.message}`));
    });
    t.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = t.getPeerCertificate(false);
      const served = new X509Certificate(peer.raw);
      const identityError = tls.checkServerIdentity(req.servername, peer);
      const trusted = Boolean(req.caPem) && t.authorized;
      const problems = [
        req.caPem ? (t.authorized ? null : `not trusted by the CA: ${String(t.authorizationError)}`) : 'no CA given',
        identityError ? `host name ${req.servername}: ${identityError.message}` : null,
      ].filter((p): p is string => p !== null);
      resolve({
        fingerprint: served.fingerprint256,
        subject: served.subject.replace(/\n/g, ', '),
        issuer: served.issuer.replace(/\n/g, ', '),
        notAfter: new Date(served.validTo).toISOString(),
        trusted,
        hostnameOk: identityError === undefined,
        problem: problems.length ? problems.join('; ') : null,
        tlsVersion: t.getProtocol(),
      });
      t.end();
      t.destroy();
    });
  });
}
