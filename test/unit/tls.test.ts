import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  handshake,
  hostMatchesSans,
  issueCertificate,
  IssuanceRefused,
  sameSans,
  signedBy,
  type KeyPairPem,
} from '../../activities/tls/index.js';
import { parseCertificateInput } from '../../contracts/input/certificate.js';
import { evaluateCertificatePreflight, servedProblem } from '../../workflows/certificates/preflight.js';

const DAY = 86_400_000;
let ca: KeyPairPem;
beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'rekey unit CA', validityDays: 365 });
});

describe('certificate issuance', () => {
  it('issues a serverAuth certificate for the CSR’s SANs, signed by the CA; the fingerprint is SHA-256 of the DER; every issue has its own key', async () => {
    const a = await issueCertificate({
      ca,
      commonName: 'postgres',
      sans: ['localhost', '127.0.0.1', 'DNS:postgres.data-ingestion.svc'],
      validityDays: 30,
    });
    const b = await issueCertificate({ ca, commonName: 'postgres', sans: ['localhost'], validityDays: 30 });
    expect(a.info).toMatchObject({
      subject: 'CN=postgres',
      issuer: 'CN=rekey unit CA, O=rekey',
      sans: ['DNS:localhost', 'IP:127.0.0.1', 'DNS:postgres.data-ingestion.svc'],
      isCa: false,
    });
    expect(signedBy(a.certPem, ca.certPem)).toBe(true);
    const der = new X509Certificate(a.certPem).raw;
    expect(a.info.fingerprint).toBe(
      createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':'),
    );
    expect(Date.parse(a.info.notAfter) - Date.now()).toBeGreaterThan(30 * DAY - 120_000);
    expect(Date.parse(a.info.notAfter) - Date.now()).toBeLessThanOrEqual(30 * DAY + 1000);
    expect(a.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(a.keyPem).not.toBe(b.keyPem);
    expect(JSON.stringify(a.info)).not.toContain('PRIVATE');
    const other = await createCertificateAuthority({ commonName: 'another CA', validityDays: 365 });
    expect(signedBy(a.certPem, other.certPem)).toBe(false);
  });

  it('refuses an expired CA, a CA that ends before the certificate would, a key that is not the CA’s, and no SANs', async () => {
    const expired = await createCertificateAuthority({
      commonName: 'old CA',
      validityDays: 10,
      now: new Date(Date.now() - 20 * DAY),
    });
    await expect(issueCertificate({ ca: expired, commonName: 'x', sans: ['x'], validityDays: 1 })).rejects.toThrow(
      /old CA.* expired on .*rotate the CA first/,
    );
    await expect(issueCertificate({ ca, commonName: 'x', sans: ['x'], validityDays: 400 })).rejects.toThrow(
      /expires on .* before the new certificate would .*shorten validityDays or rotate the CA/,
    );
    const stranger = await createCertificateAuthority({ commonName: 'stranger', validityDays: 365 });
    await expect(
      issueCertificate({
        ca: { certPem: ca.certPem, keyPem: stranger.keyPem },
        commonName: 'x',
        sans: ['x'],
        validityDays: 1,
      }),
    ).rejects.toThrow(/private key does not belong to the CA certificate/);
    await expect(issueCertificate({ ca, commonName: 'x', sans: [], validityDays: 1 })).rejects.toBeInstanceOf(
      IssuanceRefused,
    );
    const leaf = await issueCertificate({ ca, commonName: 'leaf', sans: ['leaf'], validityDays: 1 });
    await expect(issueCertificate({ ca: leaf, commonName: 'x', sans: ['x'], validityDays: 1 })).rejects.toThrow(
      /is not a CA/,
    );
  });

  it('signs with an RSA CA made as the platform plan makes it (openssl genrsa 4096; PKCS #1 or #8), issuing ECDSA or RSA leaves as asked', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-rsa-ca-'));
    const openssl = (...args: string[]) =>
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      openssl('genrsa', '-out', 'ca-key.pem', '4096'); // PKCS #8 with OpenSSL 3
      openssl('rsa', '-in', 'ca-key.pem', '-traditional', '-out', 'ca-key-pkcs1.pem'); // what OpenSSL 1.1's genrsa wrote
      openssl(
        'req',
        '-new',
        '-x509',
        '-days',
        '3650',
        '-key',
        'ca-key.pem',
        '-out',
        'ca-cert.pem',
        '-subj',
        '/CN=platform CA',
      );
      const certPem = fs.readFileSync(path.join(dir, 'ca-cert.pem'), 'utf8');
      for (const keyFile of ['ca-key.pem', 'ca-key-pkcs1.pem']) {
        const rsaCa = { certPem, keyPem: fs.readFileSync(path.join(dir, keyFile), 'utf8') };
        const leaf = await issueCertificate({
          ca: rsaCa,
          commonName: 'kafka',
          sans: ['kafka.data-ingestion.svc'],
          validityDays: 30,
        });
        expect(signedBy(leaf.certPem, certPem), keyFile).toBe(true);
        expect(new X509Certificate(leaf.certPem).publicKey.asymmetricKeyType).toBe('ec');
      }
      const rsaLeaf = await issueCertificate({
        ca: { certPem, keyPem: fs.readFileSync(path.join(dir, 'ca-key.pem'), 'utf8') },
        commonName: 'kafka',
        sans: ['kafka'],
        validityDays: 30,
        keyAlgorithm: 'rsa-2048',
      });
      expect(new X509Certificate(rsaLeaf.certPem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(signedBy(rsaLeaf.certPem, certPem)).toBe(true);
      // OpenSSL itself accepts what rekey signed
      fs.writeFileSync(path.join(dir, 'leaf.pem'), rsaLeaf.certPem);
      expect(openssl('verify', '-CAfile', 'ca-cert.pem', 'leaf.pem').toString()).toMatch(/leaf\.pem: OK/);
      // an RSA CA made by rekey, and an ECDSA key against an RSA certificate
      const madeRsa = await createCertificateAuthority({
        commonName: 'rekey RSA CA',
        validityDays: 365,
        keyAlgorithm: 'rsa-2048',
      });
      expect(
        signedBy(
          (await issueCertificate({ ca: madeRsa, commonName: 'x', sans: ['x'], validityDays: 1 })).certPem,
          madeRsa.certPem,
        ),
      ).toBe(true);
      await expect(
        issueCertificate({ ca: { certPem, keyPem: ca.keyPem }, commonName: 'x', sans: ['x'], validityDays: 1 }),
      ).rejects.toThrow(/private key does not belong to the CA certificate/);
      await expect(
        issueCertificate({ ca: { certPem, keyPem: 'not a key' }, commonName: 'x', sans: ['x'], validityDays: 1 }),
      ).rejects.toThrow(/cannot be read: it must be an unencrypted PEM key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SANs compare as sets; host names match exact names, one-label wildcards and IP SANs', () => {
    expect(sameSans(['localhost', '127.0.0.1'], ['IP Address:127.0.0.1', 'DNS:LOCALHOST'])).toBe(true);
    expect(sameSans(['localhost'], ['localhost', 'db'])).toBe(false);
    expect(hostMatchesSans('db.data.svc', ['DNS:*.data.svc'])).toBe(true);
    expect(hostMatchesSans('a.db.data.svc', ['DNS:*.data.svc'])).toBe(false);
    expect(hostMatchesSans('127.0.0.1', ['DNS:localhost'])).toBe(false);
    expect(hostMatchesSans('127.0.0.1', ['IP:127.0.0.1'])).toBe(true);
  });
});

describe('certificate rotation input and pre-flight', () => {
  const issue = (raw: unknown) => {
    try {
      parseCertificateInput(raw);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('names the field: unknown service, bad SANs, too many SANs, validity out of bounds, unknown fields', () => {
    expect(issue({ service: 'mysql' })).toMatch(
      /^invalid rotation input: service: must be one of: postgresql, kafka, kafka-connect, schema-registry/,
    );
    expect(issue({ service: 'postgresql', sans: ['bad name!'] })).toMatch(
      /sans\.0: must be a host name, an IP address/,
    );
    expect(issue({ service: 'postgresql', sans: ['IP:not-an-ip'] })).toMatch(/sans\.0:/);
    expect(issue({ service: 'postgresql', sans: Array.from({ length: 21 }, (_, i) => `h${i}`) })).toMatch(/sans:/);
    expect(issue({ service: 'postgresql', validityDays: 0 })).toMatch(/validityDays:/);
    expect(issue({ service: 'postgresql', validityDays: 826 })).toMatch(/validityDays:/);
    expect(issue({ service: 'schema-registry', clientWatch: 'PT11M' })).toMatch(
      /clientWatch: must be an ISO-8601 duration \(at most 600 s\)/,
    );
    expect(issue({ service: 'postgresql', password: 'x' })).toMatch(/\(input\): Unrecognized key: "password"/);
    expect(parseCertificateInput({ service: 'postgresql' })).toMatchObject({
      secret: 'postgres-tls',
      caSecret: 'rekey-ca',
      validityDays: 90,
      allowSanChange: false,
    });
    expect(parseCertificateInput({ service: 'kafka' })).toMatchObject({
      service: 'kafka',
      secret: 'kafka-tls',
      caSecret: 'rekey-ca',
    });
    expect(issue({ service: 'kafka', secret: 'Kafka TLS' })).toMatch(/secret: must be lowercase/);
  });

  const cert = {
    subject: 'CN=postgres',
    sans: ['DNS:localhost', 'IP:127.0.0.1'],
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-06-01T00:00:00.000Z',
    fingerprint: 'AA:01',
    isCa: false,
  };
  const facts = {
    ca: {
      ...cert,
      subject: 'CN=ca',
      isCa: true,
      notAfter: '2027-01-01T00:00:00.000Z',
      fingerprint: 'CA:01',
      refusal: null,
    },
    current: cert,
    served: { fingerprint: 'AA:01', trusted: true, hostnameOk: true, problem: null },
  };
  const req = {
    secret: 'postgres-tls',
    caSecret: 'rekey-ca',
    sans: cert.sans,
    allowSanChange: false,
    hostname: '127.0.0.1',
    validityDays: 90,
    now: Date.parse('2026-03-01T00:00:00Z'),
  };
  const failed = (f: typeof facts | Record<string, unknown>, r: Partial<typeof req> = {}) =>
    evaluateCertificatePreflight(f as typeof facts, { ...req, ...r })
      .filter((c) => !c.ok)
      .map((c) => c.check);

  it('passes for a renewal with the same SANs; refuses changed SANs without allowSanChange, an expired CA, a CA ending too soon, an unreachable service, a host not in the SANs', () => {
    expect(failed(facts)).toEqual([]);
    expect(failed(facts, { sans: ['localhost'] })).toEqual(['SANs unchanged', 'host name in SANs']);
    expect(failed(facts, { sans: ['localhost', '127.0.0.1', 'db'], allowSanChange: true })).toEqual([]);
    expect(failed({ ...facts, ca: { ...facts.ca, refusal: 'the CA certificate CN=ca expired on …' } })).toEqual([
      'CA usable',
    ]);
    expect(failed(facts, { validityDays: 825 })).toEqual(['CA outlives the certificate']);
    expect(failed({ ...facts, served: { error: 'connect ECONNREFUSED' } })).toEqual([
      'served certificate readable',
      'service serves its secret',
    ]);
    expect(failed({ ...facts, served: { ...facts.served, fingerprint: 'BB:02' } })).toEqual([
      'service serves its secret',
    ]);
    expect(failed(facts, { hostname: 'db.example' })).toEqual(['host name in SANs']);
  });

  it('judges a served certificate: the new fingerprint, trusted, right host name', () => {
    expect(servedProblem({ fingerprint: 'N', trusted: true, hostnameOk: true, problem: null }, 'N')).toBeNull();
    expect(servedProblem({ fingerprint: 'O', trusted: true, hostnameOk: true, problem: null }, 'N')).toBe(
      'serves O, not the new N',
    );
    expect(
      servedProblem({ fingerprint: 'N', trusted: false, hostnameOk: true, problem: 'not trusted by the CA: X' }, 'N'),
    ).toBe('not trusted by the CA: X');
  });
});

describe('handshake with a PostgreSQL-style server (SSLRequest, then TLS)', () => {
  let server: net.Server;
  let port = 0;
  let served: Awaited<ReturnType<typeof issueCertificate>>;
  let answer = 'S';
  beforeAll(async () => {
    served = await issueCertificate({ ca, commonName: 'postgres', sans: ['localhost', '127.0.0.1'], validityDays: 5 });
    server = net.createServer((socket) => {
      socket.once('data', (b) => {
        if (b.readUInt32BE(4) !== 80877103) return socket.destroy();
        socket.write(answer);
        if (answer !== 'S') return socket.end();
        const t = new tls.TLSSocket(socket, { isServer: true, cert: served.certPem, key: served.keyPem });
        t.on('error', () => undefined);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => server?.close());

  it('returns the served fingerprint, trusted by the CA, for the IP and the host name it names', async () => {
    const byIp = await handshake({
      host: '127.0.0.1',
      port,
      protocol: 'postgres',
      servername: '127.0.0.1',
      caPem: ca.certPem,
    });
    expect(byIp).toMatchObject({
      fingerprint: served.info.fingerprint,
      trusted: true,
      hostnameOk: true,
      problem: null,
      subject: 'CN=postgres',
    });
    expect(byIp.tlsVersion).toMatch(/^TLSv1\.[23]$/);
    expect(
      await handshake({ host: '127.0.0.1', port, protocol: 'postgres', servername: 'localhost', caPem: ca.certPem }),
    ).toMatchObject({ trusted: true, hostnameOk: true });
  });

  it('reports another CA as untrusted and a name outside the SANs as a mismatch', async () => {
    const other = await createCertificateAuthority({ commonName: 'another CA', validityDays: 30 });
    const untrusted = await handshake({
      host: '127.0.0.1',
      port,
      protocol: 'postgres',
      servername: '127.0.0.1',
      caPem: other.certPem,
    });
    expect(untrusted).toMatchObject({ fingerprint: served.info.fingerprint, trusted: false, hostnameOk: true });
    expect(untrusted.problem).toMatch(/not trusted by the CA/);
    const wrongName = await handshake({
      host: '127.0.0.1',
      port,
      protocol: 'postgres',
      servername: 'db.example',
      caPem: ca.certPem,
    });
    expect(wrongName).toMatchObject({ trusted: true, hostnameOk: false });
    expect(wrongName.problem).toMatch(/host name db\.example/);
  });

  it('says so when the server does not serve TLS (answers N)', async () => {
    answer = 'N';
    try {
      await expect(
        handshake({ host: '127.0.0.1', port, protocol: 'postgres', servername: '127.0.0.1' }),
      ).rejects.toThrow(/refuses TLS \(answered N to SSLRequest: ssl is off\)/);
    } finally {
      answer = 'S';
    }
  });
});
