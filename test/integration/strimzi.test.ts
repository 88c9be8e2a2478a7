import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { loadKubernetesClient } from '../../activities/kubernetesClient.js';
import { MANUAL_ROLLING_UPDATE, strimziRollingRestart } from '../../activities/strimzi.js';
import { adminKubeConfig, kubeNamespace as ns } from '../../scripts/stack/kube.js';
import { cfg, run } from './pgActivities.js';

/**
 * Kafka Connect run by Strimzi, against the real API server: the StrimziPodSet resource (its
 * CRD, reduced to what rekey reads) and pods on the kwok node. This test plays Strimzi's
 * operator as its docs describe it: it sees `strimzi.io/manual-rolling-update=true`, replaces
 * every pod of the set, then removes the annotation.
 */
const kc = adminKubeConfig(cfg);
const crds = kc.makeApiClient(ApiextensionsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const podSet = 'rekey-it-connect';
const selector = `strimzi.io/name=${podSet}`;
const PODSET = { group: 'core.strimzi.io', version: 'v1beta2', plural: 'strimzipodsets', namespace: ns } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const annotationsOf = async () =>
  (
    (await custom.getNamespacedCustomObject({ ...PODSET, name: podSet })) as {
      metadata: { annotations?: Record<string, string> };
    }
  ).metadata.annotations ?? {};
const podsOf = async () =>
  ((await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items ?? []).filter(
    (p) => !p.metadata?.deletionTimestamp,
  );
const ready = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function createPod(name: string) {
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name, labels: { 'strimzi.io/name': podSet, 'strimzi.io/kind': 'KafkaConnect' } },
      spec: {
        nodeSelector: { type: 'kwok' },
        automountServiceAccountToken: false,
        containers: [{ name: 'connect', image: 'quay.io/strimzi/kafka:latest' }],
      },
    },
  });
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 300)}`);
    await sleep(300);
  }
}

/** Strimzi's operator, as far as rekey depends on it: on the annotation, every pod replaced (new names here), then the annotation removed. */
async function operatorRolls(generation: string) {
  await until('the manual-rolling-update annotation', annotationsOf, (a) => a[MANUAL_ROLLING_UPDATE] === 'true');
  for (const p of await podsOf())
    await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
  await createPod(`${podSet}-${generation}-0`);
  await createPod(`${podSet}-${generation}-1`);
  await until(
    'the new pods ready',
    podsOf,
    (ps) => ps.length === 2 && ps.every(ready) && ps.every((p) => p.metadata!.name!.includes(`-${generation}-`)),
  );
  await custom.patchNamespacedCustomObject({
    ...PODSET,
    name: podSet,
    body: [{ op: 'remove', path: `/metadata/annotations/${MANUAL_ROLLING_UPDATE.replace('/', '~1')}` }],
  });
}

beforeAll(async () => {
  await loadKubernetesClient();
  await crds
    .createCustomResourceDefinition({
      body: {
        metadata: { name: 'strimzipodsets.core.strimzi.io' },
        spec: {
          group: 'core.strimzi.io',
          scope: 'Namespaced',
          names: { plural: 'strimzipodsets', singular: 'strimzipodset', kind: 'StrimziPodSet', shortNames: ['sps'] },
          versions: [
            {
              name: 'v1beta2',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
            },
          ],
        },
      },
    })
    .catch((e: { code?: number }) => (e.code === 409 ? undefined : Promise.reject(e)));
  await until(
    'the StrimziPodSet API',
    () =>
      custom.listNamespacedCustomObject(PODSET).then(
        () => true,
        () => false,
      ),
    Boolean,
  );
  await custom.deleteNamespacedCustomObject({ ...PODSET, name: podSet }).catch(() => undefined);
  await custom.createNamespacedCustomObject({
    ...PODSET,
    body: {
      apiVersion: 'core.strimzi.io/v1beta2',
      kind: 'StrimziPodSet',
      metadata: { name: podSet },
      spec: { selector: { matchLabels: { 'strimzi.io/name': podSet } }, pods: [] },
    },
  });
  for (const p of await podsOf())
    await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
  await createPod(`${podSet}-a-0`);
  await createPod(`${podSet}-a-1`);
  await until('the first pods ready', podsOf, (ps) => ps.length === 2 && ps.every(ready));
});

afterAll(async () => {
  for (const p of await podsOf().catch(() => []))
    await core
      .deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 })
      .catch(() => undefined);
  await custom.deleteNamespacedCustomObject({ ...PODSET, name: podSet }).catch(() => undefined);
});

describe('restarting Kafka Connect run by Strimzi (StrimziPodSet)', () => {
  it("asks Strimzi's operator for a rolling update and returns once every pod was replaced and the operator removed the annotation", async () => {
    const progress: string[] = [];
    const restart = strimziRollingRestart({ kubeConfig: kc, namespace: ns, podSet, selector, timeoutMs: 60_000 });
    const [done] = await Promise.all([
      run(() => restart.restart((d) => progress.push(d)), undefined),
      operatorRolls('b'),
    ]);
    expect(done).toBeUndefined();
    expect(progress[0]).toMatch(
      /strimzi\.io\/manual-rolling-update=true set on strimzipodsets\/rekey-it-connect; the Strimzi operator rolls its 2 pod\(s\)/,
    );
    expect(Object.keys(await annotationsOf())).toEqual([]); // rekey's own note cleared too
  });

  it('a retry after a crash finds its own request on the set and only waits (it does not take the new pods for the old ones)', async () => {
    // the crashed attempt: the annotation and its record of the pods before it
    const before = (await podsOf()).map((p) => p.metadata!.uid!).join(',');
    await custom.patchNamespacedCustomObject(
      {
        ...PODSET,
        name: podSet,
        body: {
          metadata: {
            annotations: { [MANUAL_ROLLING_UPDATE]: 'true', 'rekey.dev/pods-before-rolling-update': before },
          },
        },
      },
      (await import('../../activities/kubernetesClient.js')).mergePatch(),
    );
    const restart = strimziRollingRestart({ kubeConfig: kc, namespace: ns, podSet, selector, timeoutMs: 60_000 });
    const progress: string[] = [];
    await Promise.all([run(() => restart.restart((d) => progress.push(d)), undefined), operatorRolls('c')]);
    expect(progress.some((p) => /set on strimzipodsets/.test(p))).toBe(false); // no second request
    expect((await podsOf()).map((p) => p.metadata!.name).sort()).toEqual([`${podSet}-c-0`, `${podSet}-c-1`]);
  });

  it('names the setting to fix when no pod matches the selector', async () => {
    const restart = strimziRollingRestart({
      kubeConfig: kc,
      namespace: ns,
      podSet,
      selector: 'strimzi.io/name=nothing-here',
      timeoutMs: 1000,
    });
    await expect(run(() => restart.restart(() => undefined), undefined)).rejects.toThrow(
      /no pods match strimzi\.io\/name=nothing-here .*REKEY_CONNECT_POD_SELECTOR/,
    );
  });
});
