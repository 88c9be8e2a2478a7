import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { renewalDecisions, type ScannedCertificate } from '../../contracts/managedCertificates.js';
import { renewCertificates } from '../../workflows/certificates/renew.js';
import type { RenewalScanInput } from '../../contracts/input/renewalScan.js';
import { CaStubWorld } from './caStubWorld.js';
import { failureOf, timeSkippingOrStackEnv, worldWorker } from './harness.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<CaStubWorld>>>;
/** The next world's certificates: lifetime and age in days. */
let shape = { lifetime: 90, age: 0, now: Date.now() };
beforeAll(async () => {
  env = await timeSkippingOrStackEnv();
  w = await worldWorker(env, (n) => new CaStubWorld(`ca-${n}`, shape.now, shape.lifetime, shape.age));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

/** A world whose certificates are `age` days into a `lifetime`, by the test server's clock (which time skipping moves). */
const world = async (lifetime: number, age: number) => {
  shape = { lifetime, age, now: await env.currentTimeMs() };
  return w.newWorld();
};
let n = 0;
const scan = (x: CaStubWorld, input: Partial<RenewalScanInput> = {}) =>
  env.client.workflow.start(renewCertificates, {
    taskQueue: w.taskQueue,
    workflowId: `renew-certificates/test/${++n}`,
    args: [{ requestedBy: 'workflow-test', ...input, caSecret: x.caSecret }],
  });

describe('the renewal decision', () => {
  const cert = (notBefore: string, notAfter: string): ScannedCertificate => ({
    service: 'postgresql',
    secret: 'postgres-tls',
    subject: 'CN=p',
    issuer: 'CN=ca',
    notBefore,
    notAfter,
    fingerprint: 'AB',
    caFingerprints: [],
  });
  const now = Date.parse('2026-03-31T00:00:00Z');
  it('is due with less than the share of the lifetime left, or fewer days than renewBeforeDays; an unreadable certificate is reported, not renewed', () => {
    // 90 days, 31 left: not due at 1/3 (30 days); due at 1/2
    const c = cert('2026-01-30T00:00:00Z', '2026-05-01T00:00:00Z');
    expect(renewalDecisions([c], { renewBeforeRatio: 1 / 3 }, now)[0]).toMatchObject({
      due: false,
      validityDays: 91,
      why: '31 days left, renewal at 33.3% of 91 days left',
    });
    expect(renewalDecisions([c], { renewBeforeRatio: 0.5 }, now)[0]).toMatchObject({ due: true });
    expect(renewalDecisions([c], { renewBeforeRatio: 0.1, renewBeforeDays: 40 }, now)[0]).toMatchObject({
      due: true,
      why: '31 days left, under 40 days',
    });
    expect(
      renewalDecisions([cert('2026-01-01T00:00:00Z', '2026-03-30T00:00:00Z')], { renewBeforeRatio: 1 / 3 }, now)[0],
    ).toMatchObject({ due: true, why: 'expired 1 days ago' });
    expect(
      renewalDecisions(
        [{ service: 'postgresql', secret: 'x', error: 'secret x not found' }],
        { renewBeforeRatio: 1 / 3 },
        now,
      )[0],
    ).toMatchObject({ due: false, daysLeft: null, why: 'not scanned: secret x not found' });
  });
});

describe('renewal scan with stub activities', () => {
  it('renews what is due as a child rotate-certificate/<secret>, keeping its lifetime; the new certificate is served', async () => {
    const x = await world(90, 70);
    const before = x.cert('postgres-tls').cert;
    const result = await (await scan(x)).result();
    const row = result.certificates.find((c) => c.secret === 'postgres-tls')!;
    const after = x.cert('postgres-tls').cert;
    expect(row).toMatchObject({
      due: true,
      action: 'renewed',
      workflowId: 'rotate-certificate/postgres-tls',
      detail: `${before.fingerprint} → ${after.fingerprint}`,
    });
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(Math.round((Date.parse(after.notAfter) - Date.parse(after.notBefore)) / 86_400_000)).toBe(90);
    expect(x.served.get('postgresql')!.cert.fingerprint).toBe(after.fingerprint);
    expect(result.policy).toBe('renew with less than 33.3% of the lifetime left');
  });

  it('leaves a certificate with enough life alone; a dry run starts nothing; a CA rotation in progress defers renewals', async () => {
    const fresh = await world(90, 10);
    const r1 = await (await scan(fresh)).result();
    expect(r1.certificates.every((c) => c.action === 'none' && !c.due)).toBe(true);
    expect(fresh.calls).not.toContain('stagePendingCertificate');

    const due = await world(90, 80);
    const r2 = await (await scan(due, { dryRun: true })).result();
    expect(r2.certificates.find((c) => c.secret === 'postgres-tls')).toMatchObject({
      due: true,
      action: 'would-renew',
    });
    expect(due.calls.filter((c) => c !== 'scanManagedCertificates')).toEqual([]);

    const during = await world(90, 80);
    during.secrets.set(`${during.caSecret}-pending`, {
      kind: 'ca',
      ca: during.ca(during.caSecret)!,
      rotationId: 'ca-rotation',
    });
    const r3 = await (await scan(during)).result();
    expect(r3.certificates.find((c) => c.secret === 'postgres-tls')).toMatchObject({ action: 'deferred' });
    expect(r3.caRotationInProgress).toMatch(/pending exists/);
  });

  it('reports a renewal that failed (rolled back) and keeps scanning; bad input names the field', async () => {
    const x = await world(90, 80);
    x.refuseNewCa = false;
    x.failing.add('stagePendingCertificate');
    const result = await (await scan(x)).result();
    expect(result.certificates.find((c) => c.secret === 'postgres-tls')).toMatchObject({ action: 'failed' });
    expect(result.certificates.find((c) => c.secret === 'postgres-tls')!.detail).toMatch(
      /stagePendingCertificate failed/,
    );

    const bad = await failureOf(await scan(await world(90, 0), { renewBeforeRatio: 2 }));
    expect(bad).toMatchObject({ type: 'InvalidInput' });
    expect(bad!.message).toMatch(/renewBeforeRatio: Too big/i);
  });
});
