/**
 * The key kinds rekey makes for a certificate or a CA. ECDSA P-256 by default: small keys,
 * fast on the worker, accepted by OpenSSL (PostgreSQL), the JVM (Kafka, Connect, Apicurio) and
 * Node. RSA where an operator's policy or an old client wants it. (A CA that signs may be RSA or
 * ECDSA whatever its certificates are: rekey signs with the CA's own algorithm.)
 */
export const keyAlgorithms = ['ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyAlgorithm = (typeof keyAlgorithms)[number];
