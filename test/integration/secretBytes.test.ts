import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { loadStackConfig } from '../../scripts/stack/config.js';
import { adminKubeConfig, kubeNamespace } from '../../scripts/stack/kube.js';
import { createCredentialActivities } from '../../activities/credentials.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';

const kc = adminKubeConfig(loadStackConfig());
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-bytes-'));
const core = kc.makeApiClient(CoreV1Api);
const kubeSecrets: string[] = [];
afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const name of kubeSecrets)
    await core.deleteNamespacedSecret({ name, namespace: kubeNamespace }).catch(() => undefined);
});

/** What a consumer reads: the raw bytes of each key (for Kubernetes, straight from the API, not through the store). */
async function rawBytes(kind: string, store: SecretStore, name: string): Promise<Record<string, Buffer>> {
  if (kind === 'file')
    return Object.fromEntries(
      fs
        .readdirSync(path.join(tmp, name))
        .filter((f) => !f.startsWith('.'))
        .map((f) => [f, fs.readFileSync(path.join(tmp, name, f))]),
    );
  const s = await core.readNamespacedSecret({ name, namespace: kubeNamespace });
  void store;
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

const stores: Array<[string, SecretStore]> = [
  ['file', new FileSecretStore(tmp)],
  ['kubernetes', new KubernetesSecretStore(kc, kubeNamespace)],
];

describe.each(stores)('credential versions on the %s store keep every byte', (kind, store) => {
  it('promote changes only the credential keys; restore gives back the secret exactly', async () => {
    const name = `rekey-bytes-${randomBytes(3).toString('hex')}`;
    kubeSecrets.push(name, `${name}-pending`, `${name}-backup`);
    // a binary key (not valid UTF-8) the pipeline keeps next to the credential
    const truststore = Buffer.concat([Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0xff, 0x00, 0xc3]), randomBytes(200)]);
    await store.write(name, {
      'db-username': Buffer.from('debezium_old'),
      'db-password': Buffer.from('old-secret'),
      'truststore.jks': truststore,
    });
    const original = await rawBytes(kind, store, name);
    const acts = createCredentialActivities({ store });

    await acts.stagePendingCredential({ secret: name, newUser: 'debezium_new', rotationId: 'r1' });
    await acts.backupCurrentCredential({ secret: name, rotationId: 'r1' });
    expect(await rawBytes(kind, store, `${name}-backup`)).toEqual(original);

    const promoted = await acts.promotePendingCredential({ secret: name, rotationId: 'r1' });
    expect(promoted.user).toBe('debezium_new');
    const after = await rawBytes(kind, store, name);
    expect(Object.keys(after).sort()).toEqual(['db-password', 'db-username', 'truststore.jks']);
    expect(after['truststore.jks']!.equals(truststore)).toBe(true);
    expect(after['db-username']!.toString()).toBe('debezium_new');
    expect(after['db-password']!.equals(original['db-password']!)).toBe(false);
    // a retry of promote converges without another write
    expect((await acts.promotePendingCredential({ secret: name, rotationId: 'r1' })).fingerprint).toBe(
      promoted.fingerprint,
    );

    await acts.restoreBackupCredential({ secret: name, rotationId: 'r1' });
    expect(await rawBytes(kind, store, name)).toEqual(original);
  });
});
