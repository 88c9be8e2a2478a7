import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../workers/config.js';
import { loadStackConfig } from '../../scripts/stack/config.js';

const key = Buffer.alloc(32, 7).toString('base64');

describe('worker configuration', () => {
  it('refuses to start without a codec key unless insecure mode is explicit', () => {
    expect(() => loadWorkerConfig({})).toThrow(/codec\.key: no payload codec key/);
    expect(loadWorkerConfig({ REKEY_INSECURE_NO_ENCRYPTION: 'true' }).codec.insecureNoEncryption).toBe(true);
  });

  it('names the field of a wrong value', () => {
    expect(() => loadWorkerConfig({ REKEY_CODEC_KEY: 'c2hvcnQ=' })).toThrow(/codec\.key: must be base64 of exactly 32 bytes/);
    expect(() => loadWorkerConfig({ REKEY_CODEC_KEY: key, REKEY_CONNECT_URL: 'not a url' })).toThrow(/kafkaConnect\.url/);
    expect(() => loadWorkerConfig({ REKEY_CODEC_KEY: key, REKEY_SECRET_STORE: 'vault' })).toThrow(/secrets\.kind/);
  });

  it('takes environment over defaults', () => {
    const c = loadWorkerConfig({ REKEY_CODEC_KEY: key, REKEY_TASK_QUEUE: 'rekey-prod', REKEY_TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(c.temporal).toEqual({ address: 'temporal:7233', namespace: 'default', taskQueue: 'rekey-prod' });
  });

  it('stack ports are validated and name their variable', () => {
    expect(() => loadStackConfig({ REKEY_POSTGRES_PORT: '80' })).toThrow(/REKEY_POSTGRES_PORT/);
    expect(loadStackConfig({ REKEY_KAFKA_PORT: '29092' }).ports.kafka).toBe(29092);
  });
});
