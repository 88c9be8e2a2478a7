import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../activities/tls/index.js';
import { loadWorkerConfig } from '../../workers/config.js';
import { postgresTls, temporalConnectionOptions } from '../../workers/tlsConfig.js';

const key = Buffer.alloc(32, 7).toString('base64');
const production = {
  REKEY_CODEC_KEY: key,
  REKEY_PG_HOST: 'pg.internal',
  REKEY_PG_PORT: '5432',
  REKEY_PG_DATABASE: 'ecommerce',
  REKEY_PG_ADMIN_SECRET: 'postgres-admin',
  REKEY_CONNECT_URL: 'https://connect:8443',
  REKEY_KAFKA_BROKERS: 'kafka-0:9092',
  REKEY_REGISTRY_URL: 'https://registry:8443',
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-tlscfg-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
};
const ca = await createCertificateAuthority({ commonName: 'test CA', validityDays: 2 });
const client = await issueCertificate({
  ca,
  commonName: 'rekey',
  sans: ['DNS:rekey'],
  validityDays: 1,
  usage: 'client',
});
const caFile = file('ca.crt', ca.certPem);
const certFile = file('client.crt', client.certPem);
const keyFile = file('client.key', client.keyPem);

const errorOf = (env: NodeJS.ProcessEnv) => {
  try {
    loadWorkerConfig(env);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
};

describe("rekey's own TLS client options", () => {
  it('Temporal mTLS from REKEY_TEMPORAL_TLS_*: the files become the connection’s client pair, root CA and server name', () => {
    const c = loadWorkerConfig({
      ...production,
      REKEY_TEMPORAL_ADDRESS: 'temporal:7233',
      REKEY_TEMPORAL_TLS_CERT: certFile,
      REKEY_TEMPORAL_TLS_KEY: keyFile,
      REKEY_TEMPORAL_TLS_CA: caFile,
      REKEY_TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    const opts = temporalConnectionOptions(c.temporal);
    expect(opts.address).toBe('temporal:7233');
    expect(opts.tls?.serverNameOverride).toBe('temporal.internal');
    expect(opts.tls?.clientCertPair?.crt.toString()).toBe(client.certPem);
    expect(opts.tls?.serverRootCACertificate?.toString()).toBe(ca.certPem);
    expect(opts).not.toHaveProperty('apiKey');
  });

  it('Temporal Cloud API key implies TLS (system roots); plaintext when nothing is set', () => {
    const c = loadWorkerConfig({ ...production, REKEY_TEMPORAL_API_KEY: 'tc-secret-api-key' });
    expect(temporalConnectionOptions(c.temporal)).toEqual({
      address: 'localhost:7233',
      tls: {},
      apiKey: 'tc-secret-api-key',
    });
    expect(temporalConnectionOptions(loadWorkerConfig(production).temporal)).toEqual({ address: 'localhost:7233' });
    const fromFile = loadWorkerConfig({
      ...production,
      REKEY_TEMPORAL_API_KEY_FILE: file('api.key', 'tc-from-file\n'),
    });
    expect(fromFile.temporal.apiKey).toBe('tc-from-file');
  });

  it('each wrong TLS setting names its field, never a key or the API key', () => {
    const err = errorOf({
      ...production,
      REKEY_TEMPORAL_API_KEY_FILE: path.join(dir, 'missing.key'),
      REKEY_TEMPORAL_TLS_CERT: certFile,
      REKEY_PG_SSLMODE: 'verify-everything',
      REKEY_PG_SSLROOTCERT: path.join(dir, 'nope.crt'),
      REKEY_CONNECT_CA_FILE: keyFile.replace('client.key', 'absent.pem'),
      REKEY_REGISTRY_CA_FILE: file('notpem.txt', 'hello'),
    });
    expect(err).toMatch(/temporal\.apiKey: is empty/);
    expect(err).toMatch(/temporal\.tls\.clientKeyPath: mTLS needs both clientCertPath and clientKeyPath/);
    expect(err).toMatch(/postgres\.sslmode: must be one of: disable, require, verify-ca, verify-full/);
    expect(err).toMatch(/postgres\.sslRootCert: cannot read CA certificate .*nope\.crt: ENOENT/);
    expect(err).toMatch(/kafkaConnect\.caFile: cannot read CA bundle .*absent\.pem/);
    expect(err).toMatch(/schemaRegistry\.caFile: .*notpem\.txt is not PEM/);
    expect(
      errorOf({ ...production, REKEY_REGISTRY_URL: 'http://registry:8081', REKEY_REGISTRY_CA_FILE: caFile }),
    ).toMatch(/schemaRegistry\.caFile: is set but schemaRegistry\.url is not https:\/\//);
    const withSecrets = errorOf({
      ...production,
      REKEY_TEMPORAL_API_KEY: 'tc-secret-api-key',
      REKEY_TEMPORAL_TLS_KEY: keyFile,
      REKEY_PG_SSLMODE: 'bogus',
    });
    expect(withSecrets).toMatch(/temporal\.tls\.clientCertPath:/);
    for (const secret of ['tc-secret-api-key', client.keyPem.split('\n')[1]!])
      expect(withSecrets).not.toContain(secret);
  });

  it('PostgreSQL sslmode: verify-full reads the root CA; disable is plaintext', () => {
    const c = loadWorkerConfig({ ...production, REKEY_PG_SSLMODE: 'verify-full', REKEY_PG_SSLROOTCERT: caFile });
    expect(postgresTls(c.postgres)).toEqual({ sslmode: 'verify-full', rootCertPem: ca.certPem });
    expect(postgresTls(loadWorkerConfig(production).postgres)).toBeUndefined();
  });
});

describe('the worker re-reads its CA file for Connect and the registry (REKEY_CONNECT_CA_FILE, a mounted Secret)', () => {
  it('trusts a certificate from a new CA once the file holds it, without a restart', async () => {
    const https = await import('node:https');
    const { fetchTrusting } = await import('../../activities/http.js');
    const { caBundleReader } = await import('../../workers/tlsConfig.js');
    const newCa = await createCertificateAuthority({ commonName: 'next CA', validityDays: 2 });
    const served = await issueCertificate({
      ca: newCa,
      commonName: 'localhost',
      sans: ['IP:127.0.0.1'],
      validityDays: 1,
    });
    const server = https.createServer({ cert: served.certPem, key: served.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const bundle = file('bundle.crt', ca.certPem); // the old CA only: the new one is not trusted yet
    const get = fetchTrusting(caBundleReader(bundle));
    try {
      await expect(get(url)).rejects.toThrow(/fetch failed: .*(certificate|self.signed|issuer)/i);
      // the CA rotation adds the new CA to the bundle (as the kubelet updates a mounted Secret)
      fs.writeFileSync(bundle, `${ca.certPem}\n${newCa.certPem}`);
      expect(await (await get(url)).text()).toBe('ok');
    } finally {
      server.close();
    }
  });
});
