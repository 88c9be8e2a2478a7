import { describe, expect, it } from 'vitest';
import { loadStackConfig, pipeline } from '../../scripts/stack/config.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { createSchemaRegistryActivities } from '../../activities/schemaRegistry.js';
import { createSchemaRegistryValidation } from '../../activities/schemaRegistryValidation.js';
import { registryApi } from '../../activities/registryApi.js';

/**
 * `REKEY_REGISTRY_API=confluent`: the registry activities and the access validation speak
 * Confluent's API at the URL's root. Against the stack's Apicurio, whose Confluent-compatible
 * API lives under /apis/ccompat/v7 (so that is the root given here), read-only.
 * Where Apicurio's stand-in differs from Confluent (docs/runbook-schema-registry.md, "Confluent").
 */
const cfg = loadStackConfig();
const store = new FileSecretStore(cfg.secretsDir);
const url = `http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7`;
const account = { secret: pipeline.registrySecret, account: 'developer' };
const lookupSubject = `${pipeline.topicPrefix}.public.users-value`;

describe('the registry activities with the Confluent API flavour', () => {
  const registry = createSchemaRegistryActivities({ store, url, api: registryApi('confluent') });

  it('tell an accepted user from a refused one by GET /subjects, and read subjects, compatibility and the latest schema', async () => {
    expect(await registry.registryAuth({ ...account, slot: 'current' })).toMatchObject({ status: 200, accepted: true });
    const { subjects } = await registry.registryCompatibility({
      ...account,
      subjectPrefix: `${pipeline.topicPrefix}.`,
    });
    expect(subjects.map((s) => s.subject)).toContain(lookupSubject);
    expect(subjects.every((s) => /^[A-Z_]+$/.test(s.level))).toBe(true);
    expect(await registry.registryLookup({ ...account, subject: lookupSubject })).toMatchObject({
      subject: lookupSubject,
      version: expect.any(Number),
    });
  });

  it('the Apicurio flavour against the same root would ask for paths a Confluent registry does not have (the test has teeth)', async () => {
    const apicurioPaths = createSchemaRegistryActivities({ store, url, api: registryApi('apicurio') });
    await expect(apicurioPaths.registryLookup({ ...account, subject: lookupSubject })).rejects.toThrow(
      /answered HTTP 404/,
    );
  });

  it('the access validation passes its registry checks in that flavour', async () => {
    const validation = createSchemaRegistryValidation({
      store,
      url,
      api: registryApi('confluent'),
      kafka: async () => ({ brokers: [`127.0.0.1:${cfg.ports.kafka}`] }),
      brokers: [`127.0.0.1:${cfg.ports.kafka}`],
    });
    const checks = await validation.validateSchemaRegistry({
      secret: pipeline.registrySecret,
      accounts: ['developer', 'admin', 'probe'],
      topicPrefix: `${pipeline.topicPrefix}.`,
    });
    const byStatus = Object.fromEntries(checks.map((c) => [c.check, `${c.status}: ${c.evidence.saw}`]));
    expect(
      checks.filter((c) => c.status === 'fail'),
      JSON.stringify(byStatus),
    ).toEqual([]);
    // no _schemas topic behind Apicurio: Confluent's storage check says it did not check, it does not pass
    expect(checks.map((c) => c.status)).toContain('skip');
  });
});
