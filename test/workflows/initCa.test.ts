import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { createCertificateLifecycleActivities } from '../../activities/tls/lifecycle.js';
import { issueCertificate, signedBy } from '../../activities/tls/index.js';
import { initCaWorkflowId, initCertificateAuthority } from '../../workflows/certificates/initCa.js';
import { failureOf, timeSkippingEnv, workflowBundle } from './harness.js';

/** `rekey cert init-ca`'s workflow with the real activity, on a secret store in a temporary folder. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-init-ca-'));
const store = new FileSecretStore(dir);
const taskQueue = `init-ca-${randomBytes(3).toString('hex')}`;
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  env = await timeSkippingEnv();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities: createCertificateLifecycleActivities({ store }),
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

const init = (input: Record<string, unknown>, caSecret = String(input.caSecret)) =>
  env.client.workflow.start(initCertificateAuthority, {
    taskQueue,
    workflowId: initCaWorkflowId(caSecret),
    args: [input as never],
  });

describe('a first CA (rekey cert init-ca)', () => {
  it('makes an RSA or ECDSA CA into a secret that does not exist; the key is only in the store; it signs; a second init is refused and changes nothing', async () => {
    const rsa = await (
      await init({ caSecret: 'platform-ca', commonName: 'platform CA', keyAlgorithm: 'rsa-2048', requestedBy: 'test' })
    ).result();
    expect(rsa).toMatchObject({ secret: 'platform-ca', subject: 'CN=platform CA, O=rekey', isCa: true });
    const stored = (await store.read('platform-ca'))!;
    expect(Object.keys(stored.data).sort()).toEqual(['ca.crt', 'ca.key']);
    expect(JSON.stringify(rsa)).not.toContain('PRIVATE KEY');
    const leaf = await issueCertificate({
      ca: { certPem: stored.data['ca.crt']!, keyPem: stored.data['ca.key']! },
      commonName: 'kafka',
      sans: ['kafka'],
      validityDays: 30,
    });
    expect(signedBy(leaf.certPem, stored.data['ca.crt']!)).toBe(true);

    const again = await failureOf(await init({ caSecret: 'platform-ca' }));
    expect(again).toMatchObject({
      type: 'CaExists',
      message: expect.stringMatching(/secret platform-ca already exists: CN=platform CA.*rekey cert rotate-ca/),
    });
    expect((await store.read('platform-ca'))!.info.fingerprint).toBe(stored.info.fingerprint);

    expect(await (await init({ caSecret: 'rekey-ca' })).result()).toMatchObject({ subject: 'CN=rekey CA, O=rekey' });
  });

  it('names a bad field and refuses another workflow id, before anything is made', async () => {
    expect(await failureOf(await init({ caSecret: 'x-ca', keyAlgorithm: 'dsa-1024' }))).toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/keyAlgorithm/),
    });
    expect(await failureOf(await init({ caSecret: 'x-ca', validityDays: 99999 }))).toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/validityDays/),
    });
    expect(await failureOf(await init({ caSecret: 'x-ca' }, 'y-ca'))).toMatchObject({ type: 'NonCanonicalWorkflowId' });
    expect(await store.read('x-ca')).toBeUndefined();
  });
});
