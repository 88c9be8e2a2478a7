import { X509Certificate } from 'node:crypto';

/** A trust bundle: the PEM certificates a client accepts a chain from (the `ca.crt` of a secret). */
export interface BundleEntry {
  pem: string;
  fingerprint: string;
  subject: string;
  notAfter: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a bundle in order; one that does not parse makes the whole bundle refused (a typo must not drop trust silently). */
export function parseBundle(pem: string | undefined): BundleEntry[] {
  return (pem?.match(PEM_BLOCK) ?? []).map((block) => {
    const c = new X509Certificate(block);
    return {
      pem: `${block}\n`,
      fingerprint: c.fingerprint256,
      subject: c.subject.replace(/\n/g, ', '),
      notAfter: new Date(c.validTo).toISOString(),
    };
  });
}

export const formatBundle = (entries: BundleEntry[]): string => entries.map((e) => e.pem).join('');

/** The bundle with `caPem` added at the end (unchanged if it is already there). */
export function withAuthority(bundle: BundleEntry[], caPem: string): BundleEntry[] {
  const [ca] = parseBundle(caPem);
  if (!ca) throw new Error('the CA certificate is not PEM');
  return bundle.some((e) => e.fingerprint === ca.fingerprint) ? bundle : [...bundle, ca];
}

export const withoutAuthority = (bundle: BundleEntry[], fingerprint: string): BundleEntry[] =>
  bundle.filter((e) => e.fingerprint !== fingerprint);

/** Whether the bundle trusts certificates this CA signs. */
export const bundleHas = (bundle: BundleEntry[], caPem: string): boolean => {
  const [ca] = parseBundle(caPem);
  return Boolean(ca && bundle.some((e) => e.fingerprint === ca.fingerprint));
};

/** Whether `caPem` signed `certPem` (issuer name and signature; dates aside: a scan reports expiry itself). */
export function issuedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}
