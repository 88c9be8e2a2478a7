import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, productionDefaults } from '../../workers/config.js';
import { authOutcome, registryApi } from '../../activities/registryApi.js';
import { registryFileWatch } from '../../activities/registryReload.js';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { stackWorkerDefaults } from '../../scripts/lib/session.js';
import { kafkaClientDeps } from '../../workers/kafkaDeps.js';

const key = Buffer.alloc(32, 7).toString('base64');
/** Everything a production worker must be told: the systems it rotates against. */
const production = {
  REKEY_CODEC_KEY: key,
  REKEY_PG_HOST: 'pg.internal',
  REKEY_PG_PORT: '5432',
  REKEY_PG_DATABASE: 'ecommerce',
  REKEY_PG_ADMIN_SECRET: 'postgres-admin',
  REKEY_CONNECT_URL: 'http://connect:8083',
  REKEY_KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092',
  REKEY_REGISTRY_URL: 'http://registry:8081',
};
/**
 * A stack of its own (an empty folder): the development defaults read which store the stack's
 * connector uses, and the stack lane, running beside this one, moves the shared stack's.
 */
const stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-config-test-'));
const stack = () => stackWorkerDefaults(loadStackConfig({ REKEY_STACK_DIR: stackDir }));

describe('worker configuration', () => {
  it("Kafka's TLS listener is optional; its brokers are host:port and the listener defaults to SSL; a bad value is named", () => {
    expect(loadWorkerConfig(production).kafka.tls).toBeUndefined();
    expect(loadWorkerConfig({ ...production, REKEY_KAFKA_TLS_BROKERS: 'kafka-0:9093,kafka-1:9093' }).kafka.tls).toEqual(
      { brokers: ['kafka-0:9093', 'kafka-1:9093'], listener: 'SSL' },
    );
    expect(
      loadWorkerConfig({
        ...production,
        REKEY_KAFKA_TLS_BROKERS: 'kafka-0:9093',
        REKEY_KAFKA_TLS_LISTENER: 'EXTERNAL_TLS',
      }).kafka.tls?.listener,
    ).toBe('EXTERNAL_TLS');
    expect(() => loadWorkerConfig({ ...production, REKEY_KAFKA_TLS_BROKERS: 'kafka-0' })).toThrow(
      /kafka\.tls\.brokers\.0: must be host:port/,
    );
    expect(stack().kafka.tls).toEqual({ brokers: ['127.0.0.1:19094'], listener: 'SSL' });
  });

  it("rekey's Kafka clients: plaintext unless told; SASL names its secret and implies TLS; a bad mechanism, secret name or an unused CA is named", () => {
    expect(loadWorkerConfig(production).kafka).toMatchObject({ ssl: false });
    expect(loadWorkerConfig(production).kafka.sasl).toBeUndefined();
    const sasl = loadWorkerConfig({ ...production, REKEY_KAFKA_SASL_SECRET: 'kafka-rekey-sasl' });
    expect(sasl.kafka.sasl).toEqual({ secret: 'kafka-rekey-sasl', mechanism: 'SCRAM-SHA-512' });
    expect(kafkaClientDeps(sasl.kafka).ssl).toEqual({ caPem: undefined });
    expect(kafkaClientDeps(loadWorkerConfig(production).kafka).ssl).toBeUndefined();
    expect(() =>
      loadWorkerConfig({ ...production, REKEY_KAFKA_SASL_SECRET: 'x', REKEY_KAFKA_SASL_MECHANISM: 'PLAIN' }),
    ).toThrow(/kafka\.sasl\.mechanism: must be one of: SCRAM-SHA-512, SCRAM-SHA-256/);
    expect(() => loadWorkerConfig({ ...production, REKEY_KAFKA_SASL_SECRET: 'Bad Name' })).toThrow(
      /kafka\.sasl\.secret: must be a secret name/,
    );
    expect(() => loadWorkerConfig({ ...production, REKEY_KAFKA_CA_FILE: '/etc/hostname' })).toThrow(/kafka\.caFile/);
    // the embedded stack's worker: SCRAM over TLS as its own principal
    expect(stack().kafka).toMatchObject({
      brokers: ['127.0.0.1:19095'],
      sasl: { secret: 'kafka-rekey-sasl', mechanism: 'SCRAM-SHA-512' },
    });
  });

  it('production defaults assume no system: each missing setting is named', () => {
    const err = (() => {
      try {
        loadWorkerConfig({ REKEY_CODEC_KEY: key });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    for (const field of [
      'postgres.host',
      'postgres.database',
      'postgres.adminSecret',
      'kafkaConnect.url',
      'kafka.brokers',
      'schemaRegistry.url',
    ])
      expect(err).toContain(`${field}:`);
    const c = loadWorkerConfig(production);
    expect(c).toMatchObject({
      postgres: { host: 'pg.internal', port: 5432, database: 'ecommerce', adminSecret: 'postgres-admin' },
      kafka: { brokers: ['kafka-0:9092', 'kafka-1:9092'] },
      secrets: { kind: 'kubernetes', namespace: 'data-ingestion' },
      audit: productionDefaults.audit,
      testHooks: false,
    });
  });

  it('refuses to start without a codec key unless insecure mode is explicit', () => {
    const noKey: NodeJS.ProcessEnv = { ...production, REKEY_CODEC_KEY: undefined };
    expect(() => loadWorkerConfig(noKey)).toThrow(/codec\.key: no payload codec key/);
    expect(() => loadWorkerConfig({}, stack())).toThrow(/codec\.key: no payload codec key/);
    expect(loadWorkerConfig({ ...noKey, REKEY_INSECURE_NO_ENCRYPTION: 'true' }).codec.insecureNoEncryption).toBe(true);
    expect(loadWorkerConfig({ REKEY_INSECURE_NO_ENCRYPTION: 'true' }, stack()).codec.insecureNoEncryption).toBe(true);
  });

  it('names the field of a wrong value', () => {
    expect(() => loadWorkerConfig({ ...production, REKEY_CODEC_KEY: 'c2hvcnQ=' })).toThrow(
      /codec\.key: must be base64 of exactly 32 bytes/,
    );
    expect(() => loadWorkerConfig({ ...production, REKEY_CONNECT_URL: 'not a url' })).toThrow(/kafkaConnect\.url/);
    expect(() => loadWorkerConfig({ ...production, REKEY_SECRET_STORE: 'vault' })).toThrow(/secrets\.kind/);
    expect(() => loadWorkerConfig({ ...production, REKEY_PG_PORT: '99999' })).toThrow(/postgres\.port/);
  });

  it("names the workloads rekey restarts: Deployment/kafka-connect and StatefulSet/schema-registry by default, Strimzi's pod set when set; a bad one names its field", () => {
    expect(loadWorkerConfig(production).workloads).toEqual({
      connect: 'Deployment/kafka-connect',
      registry: 'StatefulSet/schema-registry',
    });
    const strimzi = loadWorkerConfig({
      ...production,
      REKEY_CONNECT_WORKLOAD: 'StrimziPodSet/pipeline-connect',
      REKEY_REGISTRY_WORKLOAD: 'Deployment/confluent-sr',
    });
    expect(strimzi.workloads).toMatchObject({
      connect: 'StrimziPodSet/pipeline-connect',
      registry: 'Deployment/confluent-sr',
    });
    expect(() => loadWorkerConfig({ ...production, REKEY_CONNECT_WORKLOAD: 'kafka-connect' })).toThrow(
      /workloads\.connect: must be Kind\/name with Kind one of Deployment, StatefulSet, StrimziPodSet/,
    );
    expect(() => loadWorkerConfig({ ...production, REKEY_REGISTRY_WORKLOAD: 'StrimziPodSet/sr' })).toThrow(
      /workloads\.registry: must be Kind\/name with Kind one of Deployment, StatefulSet/,
    );
    expect(() => loadWorkerConfig({ ...production, REKEY_CONNECT_POD_SELECTOR: 'app in (a,b)' })).toThrow(
      /workloads\.connectPodSelector: must be a label selector/,
    );
  });

  it('serves metrics on 0.0.0.0:9464 in production, off on the embedded stack, REKEY_METRICS_ADDRESS over both', () => {
    expect(loadWorkerConfig(production).metrics.address).toBe('0.0.0.0:9464');
    expect(loadWorkerConfig({ REKEY_CODEC_KEY: key }, stack()).metrics.address).toBe('off');
    expect(loadWorkerConfig({ ...production, REKEY_METRICS_ADDRESS: '127.0.0.1:19464' }).metrics.address).toBe(
      '127.0.0.1:19464',
    );
    expect(loadWorkerConfig({ ...production, REKEY_METRICS_ADDRESS: 'off' }).metrics.address).toBe('off');
    expect(loadWorkerConfig({ ...production, REKEY_METRICS_ADDRESS: '[::]:9464' }).metrics.address).toBe('[::]:9464');
    expect(() => loadWorkerConfig({ ...production, REKEY_METRICS_ADDRESS: '9464' })).toThrow(
      /metrics\.address: must be host:port/,
    );
    expect(() => loadWorkerConfig({ ...production, REKEY_METRICS_ADDRESS: 'localhost:70000' })).toThrow(
      /metrics\.address: port must be 0-65535/,
    );
  });

  it('takes environment over defaults', () => {
    const c = loadWorkerConfig({
      ...production,
      REKEY_TASK_QUEUE: 'rekey-prod',
      REKEY_TEMPORAL_ADDRESS: 'temporal:7233',
    });
    expect(c.temporal).toEqual({ address: 'temporal:7233', namespace: 'default', taskQueue: 'rekey-prod' });
    const dev = loadWorkerConfig({ REKEY_CODEC_KEY: key, REKEY_TASK_QUEUE: 'mine' }, stack());
    expect(dev.temporal.taskQueue).toBe('mine');
    expect(dev.temporal.address).toBe(`127.0.0.1:${loadStackConfig({}).ports.temporal}`);
    expect(dev.secrets.kind).toBe('file');
  });

  it('test hooks (rollback drills) are off unless REKEY_TEST_HOOKS says so', () => {
    expect(loadWorkerConfig(production).testHooks).toBe(false);
    expect(loadWorkerConfig({ REKEY_CODEC_KEY: key }, stack()).testHooks).toBe(false);
    expect(loadWorkerConfig({ ...production, REKEY_TEST_HOOKS: 'true' }).testHooks).toBe(true);
    expect(loadWorkerConfig({ ...production, REKEY_TEST_HOOKS: 'no' }).testHooks).toBe(false);
  });

  it('stack ports are validated and name their variable', () => {
    expect(() => loadStackConfig({ REKEY_POSTGRES_PORT: '80' })).toThrow(/REKEY_POSTGRES_PORT/);
    expect(loadStackConfig({ REKEY_KAFKA_PORT: '29092' }).ports.kafka).toBe(29092);
  });
});

describe('the registry API flavour (REKEY_REGISTRY_API)', () => {
  it('is apicurio by default, confluent when set, and a bad value is named', () => {
    expect(loadWorkerConfig(production).schemaRegistry.api).toBe('apicurio');
    expect(loadWorkerConfig({ ...production, REKEY_REGISTRY_API: 'confluent' }).schemaRegistry.api).toBe('confluent');
    expect(() => loadWorkerConfig({ ...production, REKEY_REGISTRY_API: 'karapace' })).toThrow(
      /schemaRegistry\.api: must be one of: apicurio, confluent/,
    );
  });

  it('only 401 and 403 are refusals; a 404 came past authentication; a 5xx or no answer says nothing', () => {
    expect([200, 204, 404, 401, 403, 500, 503, 0].map(authOutcome)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'refused',
      'refused',
      'no answer',
      'no answer',
      'no answer',
    ]);
    // Confluent serves its API at the root; Apicurio under /apis/ccompat/v7, and its own API beside it
    expect(registryApi('confluent')).toMatchObject({ authProbe: '/subjects', subjects: '/subjects' });
    expect(registryApi('confluent').latest('a/b-value')).toBe('/subjects/a%2Fb-value/versions/latest');
    expect(registryApi('apicurio').config('x')).toBe('/apis/ccompat/v7/config/x?defaultToGlobal=true');
  });
});

describe('how the registry re-reads its users (REKEY_REGISTRY_RELOAD)', () => {
  it('is unset (a restart) by default, restart or file-watch when set, and a bad value is named', () => {
    expect(loadWorkerConfig(production).schemaRegistry.reload).toBeUndefined();
    expect(loadWorkerConfig({ ...production, REKEY_REGISTRY_RELOAD: 'restart' }).schemaRegistry.reload).toBe('restart');
    expect(loadWorkerConfig({ ...production, REKEY_REGISTRY_RELOAD: 'file-watch' }).schemaRegistry.reload).toBe(
      'file-watch',
    );
    expect(() => loadWorkerConfig({ ...production, REKEY_REGISTRY_RELOAD: 'hot-reload' })).toThrow(
      /schemaRegistry\.reload: must be one of: restart, file-watch/,
    );
  });

  it('file-watch restarts nothing: it calls no service and reports that the registry re-reads its users file', async () => {
    const realFetch = globalThis.fetch;
    let calls = 0;
    globalThis.fetch = (() => (calls++, Promise.reject(new Error('no call expected')))) as typeof fetch;
    try {
      const progress: string[] = [];
      await registryFileWatch().restart((d) => progress.push(d), '2026-01-01T00:00:00Z');
      expect(calls).toBe(0);
      expect(progress).toEqual([expect.stringMatching(/no restart .*re-reads its users file/)]);
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});

describe("the registry's access log (REKEY_REGISTRY_ACCESS_LOG)", () => {
  const accessLog = (value: string, env: NodeJS.ProcessEnv = production) =>
    loadWorkerConfig({ ...env, REKEY_REGISTRY_ACCESS_LOG: value }).schemaRegistry.accessLog;

  it('is a file (absolute path) or the pods of a namespace by label selector, with an optional container', () => {
    expect(loadWorkerConfig(production).schemaRegistry.accessLog).toBeUndefined();
    expect(accessLog('file:/var/log/registry/access.log')).toBe('file:/var/log/registry/access.log');
    expect(accessLog('pods:data-ingestion/app=schema-registry')).toBe('pods:data-ingestion/app=schema-registry');
    expect(accessLog('pods:data-ingestion/app.kubernetes.io/name=schema-registry,tier!=canary:registry')).toBe(
      'pods:data-ingestion/app.kubernetes.io/name=schema-registry,tier!=canary:registry',
    );
  });

  it('a wrong value names the field and the form', () => {
    expect(() => accessLog('file:access.log')).toThrow(/schemaRegistry\.accessLog: must be file:<absolute path>/);
    expect(() => accessLog('/var/log/access.log')).toThrow(
      /schemaRegistry\.accessLog: must be file:<absolute path> or pods:<namespace>\/<label selector>/,
    );
    expect(() => accessLog('pods:app=schema-registry')).toThrow(
      /schemaRegistry\.accessLog: needs a namespace: pods:<namespace>\/<label selector>/,
    );
    expect(() => accessLog('pods:/app=schema-registry')).toThrow(/schemaRegistry\.accessLog: needs a namespace/);
    expect(() => accessLog('pods:Data_Ingestion/app=schema-registry')).toThrow(
      /schemaRegistry\.accessLog: needs a namespace/,
    );
    expect(() => accessLog('pods:data-ingestion/')).toThrow(
      /schemaRegistry\.accessLog: needs a label selector after the namespace/,
    );
    expect(() => accessLog('pods:data-ingestion/:registry')).toThrow(
      /schemaRegistry\.accessLog: needs a label selector after the namespace/,
    );
    expect(() => accessLog('pods:data-ingestion/app in (a,b)')).toThrow(
      /schemaRegistry\.accessLog: app in \(a,b\) must be a label selector/,
    );
    expect(() => accessLog('pods:data-ingestion/app=schema-registry:')).toThrow(
      /schemaRegistry\.accessLog: needs a container name after ':'/,
    );
    expect(() => accessLog('pods:data-ingestion/app=schema-registry:a:b')).toThrow(
      /schemaRegistry\.accessLog: needs a container name after ':'/,
    );
  });

  it('pods: needs a cluster: the Kubernetes secret store or REKEY_K8S_NAMESPACE', () => {
    const fileStore = { ...production, REKEY_SECRET_STORE: 'file', REKEY_SECRETS_DIR: '/var/lib/rekey/secrets' };
    expect(() => accessLog('pods:data-ingestion/app=schema-registry', fileStore)).toThrow(
      /schemaRegistry\.accessLog: pods:… reads the pods through the Kubernetes API/,
    );
    expect(
      accessLog('pods:data-ingestion/app=schema-registry', { ...fileStore, REKEY_K8S_NAMESPACE: 'data-ingestion' }),
    ).toBe('pods:data-ingestion/app=schema-registry');
    expect(accessLog('file:/var/log/registry/access.log', fileStore)).toBe('file:/var/log/registry/access.log');
  });
});

describe('the health endpoint (REKEY_HEALTH_ADDRESS)', () => {
  it('listens on 0.0.0.0:8080 in production (deploy/worker.yaml probes it), off on the stack, and a bad value is named', () => {
    expect(loadWorkerConfig(production).health.address).toBe('0.0.0.0:8080');
    expect(loadWorkerConfig({ ...production, REKEY_HEALTH_ADDRESS: 'off' }).health.address).toBe('off');
    expect(stack().health.address).toBe('off');
    expect(() => loadWorkerConfig({ ...production, REKEY_HEALTH_ADDRESS: '8080' })).toThrow(
      /health\.address: must be host:port to bind the health endpoint on \(e\.g\. 0\.0\.0\.0:8080\), or off/,
    );
  });
});
