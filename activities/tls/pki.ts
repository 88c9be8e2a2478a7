import { randomBytes, webcrypto, X509Certificate as NodeCertificate } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { normalizeSan } from '../../workflows/certificates/sans.js';

let loading: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509, loaded when a certificate is first made (~16 MB a worker that rotates no
 * certificate does not carry). It resolves its algorithm providers through tsyringe, which
 * needs the Reflect metadata API loaded first.
 */
function x509Library(): Promise<typeof X509> {
  loading ??= import('reflect-metadata').then(async () => {
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  });
  return loading;
}

/** A certificate as workflows, results and the CLI may see it: never a key. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** `DNS:name` / `IP:address`, in the certificate's order. */
  sans: string[];
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` and Node's `fingerprint256` print it. */
  fingerprint: string;
  serialNumber: string;
  isCa: boolean;
}

/** PEM text of a certificate and its private key (PKCS #8), as the secret store keeps them. */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

/**
 * Kafka's PEM keystore (KIP-651, `ssl.keystore.type=PEM`): the unencrypted PKCS #8 key and the
 * certificate in one file, which the broker reads from `ssl.keystore.location` (no JKS, no password).
 */
export const pemKeystore = (keyPem: string, certPem: string): string => `${keyPem.trimEnd()}\n${certPem.trimEnd()}\n`;

/** A refusal whose message names what is wrong; activities turn it into a non-retryable failure. */
export class IssuanceRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IssuanceRefused';
  }
}

const DAY_MS = 86_400_000;
/** ECDSA P-256: small keys, fast on the worker, accepted by OpenSSL (PostgreSQL), the JVM (Kafka, Connect, Apicurio) and Node. */
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export function describeCertificate(pem: string): CertificateInfo {
  const c = new NodeCertificate(pem);
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    sans: (c.subjectAltName ?? '').split(', ').filter(Boolean).map(normalizeSan),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: new Date(c.validTo).toISOString(),
    fingerprint: c.fingerprint256,
    serialNumber: c.serialNumber,
    isCa: c.ca,
  };
}

/** Why this CA cannot sign a certificate valid from `now` to `notAfter`, or null. */
export function caRefusal(ca: CertificateInfo, now: Date, notAfter?: Date): string | null {
  if (!ca.isCa) return `the CA certificate ${ca.subject} is not a CA (basicConstraints CA:FALSE)`;
  if (Date.parse(ca.notAfter) <= now.getTime()) return `the CA certificate ${ca.subject} expired on ${ca.notAfter}: rotate the CA first`;
  if (Date.parse(ca.notBefore) > now.getTime()) return `the CA certificate ${ca.subject} is not valid before ${ca.notBefore}`;
  if (notAfter && Date.parse(ca.notAfter) < notAfter.getTime()) {
    return `the CA certificate ${ca.subject} expires on ${ca.notAfter}, before the new certificate would (${notAfter.toISOString()}): shorten validityDays or rotate the CA`;
  }
  return null;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  const der = Buffer.from(keyPem.replace(/-----(BEGIN|END) PRIVATE KEY-----|\s/g, ''), 'base64');
  try {
    return await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
  } catch {
    throw new IssuanceRefused('the CA private key is not a PKCS #8 ECDSA P-256 key (the only kind rekey signs with)');
  }
}

const generateKeys = () => webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
const serial = () => `01${randomBytes(15).toString('hex')}`;

/** A self-signed CA (the embedded stack's, and tests'). */
export async function createCertificateAuthority(opts: { commonName: string; validityDays: number; now?: Date }): Promise<KeyPairPem> {
  const x509 = await x509Library();
  const now = opts.now ?? new Date();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [opts.commonName] }, { O: ['rekey'] }],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + opts.validityDays * DAY_MS),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export interface IssueRequest {
  ca: KeyPairPem;
  commonName: string;
  /** `DNS:name`, `IP:address`, or bare names (an IP literal becomes `IP:`). */
  sans: string[];
  validityDays: number;
  now?: Date;
  /** `client`: a certificate a client presents for mTLS (clientAuth); default `server` (serverAuth). */
  usage?: 'server' | 'client';
}

/**
 * A service certificate the way a CA issues one: the key pair and a CSR are made here (the
 * service's side), the CSR's signature is checked, then the CA signs a serverAuth
 * certificate for the CSR's subject and SANs. The CA must be valid for the whole lifetime.
 */
export async function issueCertificate(req: IssueRequest): Promise<KeyPairPem & { info: CertificateInfo }> {
  const x509 = await x509Library();
  const now = req.now ?? new Date();
  if (req.sans.length === 0) throw new IssuanceRefused('a service certificate needs at least one subject alternative name (clients check the host name against the SANs, not the CN)');
  const notAfter = new Date(now.getTime() + req.validityDays * DAY_MS);
  const caInfo = describeCertificate(req.ca.certPem);
  const refusal = caRefusal(caInfo, now, notAfter);
  if (refusal) throw new IssuanceRefused(refusal);
  const caKey = await importSigningKey(req.ca.keyPem);
  const caCert = new x509.X509Certificate(req.ca.certPem);
  const caPublicKey = await caCert.publicKey.export();
  if (!(await webcrypto.subtle.verify(SIGNING, caPublicKey, await webcrypto.subtle.sign(SIGNING, caKey, Buffer.from('rekey')), Buffer.from('rekey')))) {
    throw new IssuanceRefused(`the CA private key does not belong to the CA certificate ${caInfo.subject}`);
  }

  const keys = await generateKeys();
  const names = req.sans.map(normalizeSan).map((s) => (s.startsWith('IP:') ? { type: 'ip' as const, value: s.slice(3) } : { type: 'dns' as const, value: s.slice(4) }));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [req.commonName] }],
    keys,
    signingAlgorithm: SIGNING,
    extensions: [new x509.SubjectAlternativeNameExtension(names)],
  });
  if (!(await csr.verify())) throw new IssuanceRefused('the certificate signing request does not verify');
  // the SANs the CA signs are the CSR's own, as a CA takes them from a request it accepts
  const sanExtension = csr.getExtension('2.5.29.17');
  const requested = sanExtension ? new x509.SubjectAlternativeNameExtension(sanExtension.rawData) : null;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: csr.subjectName,
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    publicKey: csr.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([req.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(requested?.names.toJSON() ?? names),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const certPem = cert.toString('pem');
  return { certPem, keyPem: await exportKeyPem(keys.privateKey), info: describeCertificate(certPem) };
}

/** Whether `certPem` was signed by `caPem` and is valid now (the chain a client builds, one level deep). */
export function signedBy(certPem: string, caPem: string, now = new Date()): boolean {
  const cert = new NodeCertificate(certPem);
  const ca = new NodeCertificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey) && Date.parse(cert.validTo) > now.getTime() && Date.parse(cert.validFrom) <= now.getTime();
}
