import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotateServiceCertificate } from '../../workflows/certificates/workflow.js';
import type { CertificateRotationInput } from '../../contracts/input/certificate.js';
import { rotationWorkflowId, type RotationResult } from '../../workflows/rotation/index.js';
import {
  failureOf,
  patchesRightAfterLocalActivity,
  timeSkippingEnv,
  worldWorker,
  expectRunFollowsPlan,
} from './harness.js';
import { CertStubWorld } from './certStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<CertStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(env, (n) => new CertStubWorld(`postgres-tls-${n}-${randomBytes(2).toString('hex')}`));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: CertStubWorld, input: Partial<CertificateRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotateServiceCertificate, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('certificate', world.secret),
    args: [
      {
        service: 'postgresql',
        requestedBy: 'workflow-test',
        ...input,
        secret: world.secret,
      } as CertificateRotationInput,
    ],
  });

const readOnly = [
  'serviceEndpoint',
  'describeCertificateAuthority',
  'describeServiceCertificate',
  'verifyServedCertificate',
];
const changes = (world: CertStubWorld) => world.calls.filter((c) => !readOnly.includes(c));
const steps = (r: RotationResult) =>
  r.steps.filter((s) => !s.name.startsWith('signal:')).map((s) => `${s.name}:${s.outcome}`);

describe('service certificate rotation with stub activities', () => {
  it('renews: the new certificate in the secret and served, proven by handshake; no staging versions left; steps follow the dry-run plan; no key in history', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-certificate/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.status).toBe('dry-run');
    expect(changes(dryWorld)).toEqual([]);
    expect(dry.plan!.find((s) => s.name === 'install')!.undo).toMatch(
      /-backup → .*pg_reload_conf\(\) until AB:01 is served again/,
    );

    const world = w.newWorld();
    const old = world.current.fingerprint;
    const handle = await start(world, { validityDays: 30 });
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ status: 'completed', procedure: 'certificate', from: old });
    expect(result.to).not.toBe(old);
    expect(world.state()).toEqual({
      current: result.to,
      installed: result.to,
      served: result.to,
      pending: false,
      backup: false,
    });
    expect(world.current.sans).toEqual(['DNS:localhost', 'IP:127.0.0.1']);
    expect(Date.parse(world.current.notAfter) - Date.parse(world.current.notBefore)).toBe(30 * 86_400_000);
    expect(steps(result).every((s) => s.endsWith(':ok'))).toBe(true);
    expectRunFollowsPlan(dry.plan!, result.steps);
    expect(result.steps.find((s) => s.name === 'verify-served')!.detail).toMatch(
      new RegExp(`^served ${result.to} \\(TLSv1.3\\), trusted by rekey-ca, matches 127.0.0.1$`),
    );
    expect(world.audit.map((e) => e.action)).toEqual([
      'rotation_started',
      'preflight',
      'issue',
      'backup',
      'promote',
      'install',
      'rotate_credentials',
    ]);
    expect(world.audit.every((e) => e.component === 'tls_postgresql')).toBe(true);
    const events = await handle.fetchHistory();
    // every patch decided before the plan's local activity (else a replaying worker can fail on it)
    expect(patchesRightAfterLocalActivity(events)).toEqual([]);
    const history = JSON.stringify(events);
    for (const key of world.keys)
      expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(key);
  });

  it('kafka: the plan reloads the TLS listener through the Admin API and checks a direct TLS handshake; the run completes as tls_kafka', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { service: 'kafka', dryRun: true }, `rotate-certificate/${dryWorld.secret}/dry-run/k`)
    ).result()) as RotationResult;
    const plan = Object.fromEntries(dry.plan!.map((s) => [s.name, s]));
    expect(plan.install!.does).toMatch(
      /install .* for kafka .*then the Admin API re-setting each broker’s listener\.name\.<tls listener>\.ssl\.keystore\.location until a handshake serves/,
    );
    expect(plan['verify-served']!.does).toMatch(/^TLS handshake with 127\.0\.0\.1:9094 as a client/);
    const world = w.newWorld();
    const result = (await (await start(world, { service: 'kafka' })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(world.state()).toEqual({
      current: result.to,
      installed: result.to,
      served: result.to,
      pending: false,
      backup: false,
    });
    expect(world.audit.every((e) => e.component === 'tls_kafka')).toBe(true);
  });

  it('rolls back after install (drill): the previous certificate is reinstalled and served again; nothing staged is left', async () => {
    const world = w.newWorld();
    const old = world.current.fingerprint;
    const handle = await start(world, { injectFailure: 'install' });
    const failure = await failureOf(handle);
    expect(failure).toMatchObject({ type: 'RotationRolledBack' });
    expect(failure!.message).toMatch(/rollback drill: failure injected after step install/);
    expect(world.state()).toEqual({ current: old, installed: old, served: old, pending: false, backup: false });
    expect(world.calls.filter((c) => c === 'installServiceCertificate')).toHaveLength(2);
    expect(world.audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(['compensate_install', 'compensate_promote', 'compensate_backup', 'compensate_issue']),
    );
  });

  it('kafka-connect / schema-registry: install is a restart, then the connector’s failed tasks are healed before the handshake; a rollback heals again', async () => {
    const world = w.newWorld();
    world.failedTasks = [0];
    const dry = (await (
      await start(world, { service: 'schema-registry', dryRun: true }, `rotate-certificate/${world.secret}/dry-run/r`)
    ).result()) as RotationResult;
    expect(dry.plan!.map((s) => s.name)).toEqual([
      'preflight',
      'issue',
      'backup',
      'promote',
      'install',
      'connector-running',
      'verify-served',
      'remove-versions',
    ]);
    expect(dry.plan!.find((s) => s.name === 'install')!.does).toMatch(
      /restart the Schema Registry \(Kubernetes: rollout restart of statefulsets\/schema-registry\)/,
    );
    const result = (await (await start(world, { service: 'schema-registry' })).result()) as RotationResult;
    expect(steps(result).every((s) => s.endsWith(':ok'))).toBe(true);
    expectRunFollowsPlan(dry.plan!, result.steps);
    expect(result.steps.find((s) => s.name === 'connector-running')!.detail).toBe('restarted failed task(s) 0');
    expect(result.steps.find((s) => s.name === 'verify-served')!.detail).toMatch(/matches 127\.0\.0\.1$/);

    const drill = w.newWorld();
    const old = drill.current.fingerprint;
    const failure = await failureOf(await start(drill, { service: 'kafka-connect', injectFailure: 'install' }));
    expect(failure).toMatchObject({ type: 'RotationRolledBack' });
    expect(drill.state()).toEqual({ current: old, installed: old, served: old, pending: false, backup: false });
    const order = drill.calls.filter((c) =>
      ['installServiceCertificate', 'waitConnectorRunning', 'restartFailedTasks'].includes(c),
    );
    // the drill fails right after install; the compensation's reinstall (a restart) is followed by the same healing
    expect(order).toEqual([
      'installServiceCertificate',
      'installServiceCertificate',
      'waitConnectorRunning',
      'restartFailedTasks',
      'waitConnectorRunning',
    ]);
    expect(drill.audit.every((e) => e.component === 'tls_kafka-connect')).toBe(true);
  });

  it('rolls back when a client would refuse the served certificate (signed by another CA)', async () => {
    const world = w.newWorld();
    world.issueUntrusted = true;
    const old = world.current.fingerprint;
    const failure = await failureOf(await start(world));
    expect(failure!.message).toMatch(
      /rotation rolled back: .*a client would not get the new certificate from 127\.0\.0\.1:5432: not trusted by the CA/,
    );
    expect(world.state()).toEqual({ current: old, installed: old, served: old, pending: false, backup: false });
  });

  it('refuses before anything changes: an expired CA, SANs that differ from the current certificate’s, a host name outside the SANs, an unknown service', async () => {
    const cases: Array<[string, (x: CertStubWorld) => void, Partial<CertificateRotationInput>, RegExp]> = [
      [
        'expired CA',
        (x) => (x.ca.notAfter = '2021-01-01T00:00:00.000Z'),
        {},
        /pre-flight failed, nothing was changed: CA usable: saw the CA certificate CN=rekey CA expired on 2021-01-01/,
      ],
      [
        'SANs differ',
        () => undefined,
        { sans: ['localhost', '127.0.0.1', 'db.example'] },
        /SANs unchanged: saw current DNS:localhost, IP:127\.0\.0\.1; requested DNS:localhost, IP:127\.0\.0\.1, DNS:db\.example, expected the same SANs as the current certificate \(or allowSanChange: true\)/,
      ],
      [
        'host not in SANs',
        () => undefined,
        { sans: ['localhost'], allowSanChange: true },
        /host name in SANs: saw 127\.0\.0\.1 against DNS:localhost/,
      ],
      [
        'unknown service',
        () => undefined,
        { service: 'mysql' } as unknown as Partial<CertificateRotationInput>,
        /service: must be one of: postgresql/,
      ],
    ];
    for (const [name, spoil, input, message] of cases) {
      const world = w.newWorld();
      spoil(world);
      const before = JSON.stringify(world.state());
      const failure = await failureOf(await start(world, input));
      expect(failure?.message, name).toMatch(message);
      expect(changes(world), name).toEqual([]);
      expect(JSON.stringify(world.state()), name).toBe(before);
    }
    const allowed = w.newWorld();
    const ok = (await (
      await start(allowed, { sans: ['localhost', '127.0.0.1', 'db.example'], allowSanChange: true })
    ).result()) as RotationResult;
    expect(ok.status).toBe('completed');
    expect(allowed.current.sans).toEqual(['DNS:localhost', 'IP:127.0.0.1', 'DNS:db.example']);
  });
});
