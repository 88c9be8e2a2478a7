import { createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeCertificate } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { normalizeSan } from '../../contracts/sans.js';
import type { KeyAlgorithm } from '../../contracts/keyAlgorithms.js';

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

interface Algorithm {
  generate: EcKeyGenParams | RsaHashedKeyGenParams;
  import: EcKeyImportParams | RsaHashedImportParams;
  sign: EcdsaParams | Algorithm_;
}
type Algorithm_ = { name: string };

const ECDSA_CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
};

const ecdsa = (namedCurve: string, hash: string): Algorithm => ({
  generate: { name: 'ECDSA', namedCurve },
  import: { name: 'ECDSA', namedCurve },
  sign: { name: 'ECDSA', hash },
});
const rsa = (modulusLength: number): Algorithm => ({
  generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  sign: { name: 'RSASSA-PKCS1-v1_5' },
});

/** What x509's generators take to sign: the key's parameters with the hash. */
const signingParams = (a: Algorithm) => ({ ...a.generate, ...a.sign });

function algorithmOf(kind: KeyAlgorithm): Algorithm {
  return kind === 'ecdsa-p256' ? ecdsa('P-256', 'SHA-256') : rsa(Number(kind.slice(4)));
}

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
  if (Date.parse(ca.notAfter) <= now.getTime())
    return `the CA certificate ${ca.subject} expired on ${ca.notAfter}: rotate the CA first`;
  if (Date.parse(ca.notBefore) > now.getTime())
    return `the CA certificate ${ca.subject} is not valid before ${ca.notBefore}`;
  if (notAfter && Date.parse(ca.notAfter) < notAfter.getTime()) {
    return `the CA certificate ${ca.subject} expires on ${ca.notAfter}, before the new certificate would (${notAfter.toISOString()}): shorten validityDays or rotate the CA`;
  }
  return null;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

/**
 * The CA's private key for signing, whatever form OpenSSL wrote it in: PKCS #8, or PKCS #1 /
 * SEC 1 (`openssl genrsa 4096` before OpenSSL 3, `openssl ecparam -genkey`); RSA or ECDSA
 * P-256/P-384. Certificates it signs use its own algorithm (RSA: SHA-256 with PKCS #1 v1.5).
 */
async function importSigningKey(keyPem: string): Promise<{ key: CryptoKey; sign: Algorithm['sign'] }> {
  let algorithm: Algorithm | undefined;
  let der: Buffer;
  try {
    const k = createPrivateKey(keyPem);
    der = k.export({ type: 'pkcs8', format: 'der' });
    if (k.asymmetricKeyType === 'rsa') algorithm = rsa(k.asymmetricKeyDetails?.modulusLength ?? 2048);
    const curve = k.asymmetricKeyType === 'ec' ? ECDSA_CURVES[k.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
    if (curve) algorithm = ecdsa(curve.namedCurve, curve.hash);
  } catch {
    throw new IssuanceRefused(
      'the CA private key cannot be read: it must be an unencrypted PEM key (PKCS #8, or PKCS #1 RSA / SEC 1 EC as OpenSSL writes them)',
    );
  }
  if (!algorithm)
    throw new IssuanceRefused('the CA private key is neither RSA nor ECDSA P-256/P-384 (the kinds rekey signs with)');
  return {
    key: await webcrypto.subtle.importKey('pkcs8', der, algorithm.import, false, ['sign']),
    sign: algorithm.sign,
  };
}

const generateKeys = (kind: KeyAlgorithm = 'ecdsa-p256') =>
  webcrypto.subtle.generateKey(algorithmOf(kind).generate, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
const serial = () => `01${randomBytes(15).toString('hex')}`;

/** A self-signed CA (the embedded stack's, and tests'). */
export async function createCertificateAuthority(opts: {
  commonName: string;
  validityDays: number;
  now?: Date;
  keyAlgorithm?: KeyAlgorithm;
}): Promise<KeyPairPem> {
  const x509 = await x509Library();
  const now = opts.now ?? new Date();
  const kind = opts.keyAlgorithm ?? 'ecdsa-p256';
  const keys = await generateKeys(kind);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [opts.commonName] }, { O: ['rekey'] }],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + opts.validityDays * DAY_MS),
    keys,
    signingAlgorithm: signingParams(algorithmOf(kind)),
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
  /** The new certificate's key (default ECDSA P-256), whatever the CA's own key is. */
  keyAlgorithm?: KeyAlgorithm;
}

/**
 * A service certificate the way a CA issues one: the key pair and a CSR are made here (the
 * service's side), the CSR's signature is checked, then the CA signs a serverAuth
 * certificate for the CSR's subject and SANs. The CA must be valid for the whole lifetime.
 */
export async function issueCertificate(req: IssueRequest): Promise<KeyPairPem & { info: CertificateInfo }> {
  const x509 = await x509Library();
  const now = req.now ?? new Date();
  if (req.sans.length === 0)
    throw new IssuanceRefused(
      'a service certificate needs at least one subject alternative name (clients check the host name against the SANs, not the CN)',
    );
  const notAfter = new Date(now.getTime() + req.validityDays * DAY_MS);
  const caInfo = describeCertificate(req.ca.certPem);
  const refusal = caRefusal(caInfo, now, notAfter);
  if (refusal) throw new IssuanceRefused(refusal);
  const { key: caKey, sign: caSigning } = await importSigningKey(req.ca.keyPem);
  const caCert = new x509.X509Certificate(req.ca.certPem);
  if (!(await belongsTo(caKey, caSigning, caCert)))
    throw new IssuanceRefused(`the CA private key does not belong to the CA certificate ${caInfo.subject}`);

  const leaf = algorithmOf(req.keyAlgorithm ?? 'ecdsa-p256');
  const keys = await generateKeys(req.keyAlgorithm);
  const names = req.sans
    .map(normalizeSan)
    .map((s) =>
      s.startsWith('IP:') ? { type: 'ip' as const, value: s.slice(3) } : { type: 'dns' as const, value: s.slice(4) },
    );
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [req.commonName] }],
    keys,
    signingAlgorithm: signingParams(leaf),
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
    signingAlgorithm: { ...caSigning, ...caKey.algorithm },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        req.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(requested?.names.toJSON() ?? names),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const certPem = cert.toString('pem');
  return { certPem, keyPem: await exportKeyPem(keys.privateKey), info: describeCertificate(certPem) };
}

/** Whether the private key signs what the certificate's public key verifies. */
async function belongsTo(key: CryptoKey, sign: Algorithm['sign'], cert: X509.X509Certificate): Promise<boolean> {
  let publicKey: CryptoKey;
  try {
    publicKey = await cert.publicKey.export(key.algorithm as Algorithm_ as EcKeyImportParams, ['verify']);
  } catch {
    return false; // a key of another kind than the certificate's
  }
  const probe = Buffer.from('rekey');
  return webcrypto.subtle.verify(sign, publicKey, await webcrypto.subtle.sign(sign, key, probe), probe);
}

/** Whether `certPem` was signed by `caPem` and is valid now (the chain a client builds, one level deep). */
export function signedBy(certPem: string, caPem: string, now = new Date()): boolean {
  const cert = new NodeCertificate(certPem);
  const ca = new NodeCertificate(caPem);
  return (
    cert.checkIssued(ca) &&
    cert.verify(ca.publicKey) &&
    Date.parse(cert.validTo) > now.getTime() &&
    Date.parse(cert.validFrom) <= now.getTime()
  );
}
