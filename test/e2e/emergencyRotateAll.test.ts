import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { pipeline } from '../../scripts/stack/config.js';
import { awsClientConfig } from '../../scripts/stack/moto.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { CA_KEYS, CERT_KEYS } from '../../activities/tls/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { emergencyRotateAll, type EmergencyResult } from '../../workflows/emergency/rotateAll.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { execFile } from 'node:child_process';
import { repoRoot } from '../../scripts/stack/config.js';
import { recordHistory, recordingOverrides } from './histories.js';
import { auditLines, cfg, pipelineState, stopLeftover, store } from './pipeline.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';
import { ensureSampleAppDatabase, sampleApp } from '../../scripts/stack/sampleAppDb.js';
import {
  clearSampleAppStats,
  sampleAppStats,
  startSampleApp,
  stopSampleApp,
} from '../../scripts/stack/standinSampleApp.js';

/**
 * The runbook's "Suspected Credential Compromise" as one workflow against the real stack:
 * every credential rotated in compromise mode under CDC load, as children of one parent,
 * then the full access validation. Checked as an operator would: each old credential is
 * gone or refused, the new ones work, no change event lost.
 */

/** The operator CLI, as an operator runs it in a checkout (scripts/rekey.ts: the product CLI on the stack's defaults). */
const rekey = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/rekey.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, REKEY_TASK_QUEUE: w.taskQueue } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
let w: TestWorker;
let handle: WorkflowHandle | undefined;
beforeAll(async () => {
  // the sample application whose login the emergency rotates (named in its input)
  const db = await adminClient(cfg, pipeline.database);
  await ensureSampleAppDatabase(cfg, db).finally(() => db.end());
  await stopSampleApp(cfg);
  clearSampleAppStats(cfg);
  await startSampleApp(cfg);
  await connectFetch(
    `http://127.0.0.1:${cfg.ports.connect}/connectors/s3-sink-connector/restart?includeTasks=true&onlyFailed=true`,
    { method: 'POST' },
  );
  // the worker reaches Connect's REST API over HTTPS (as a production worker should), so the certificate
  // it reissues is checked as served: rekey's CA file holds the signing CA and Connect's trust bundle
  const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-ca-')), 'ca.crt');
  fs.writeFileSync(
    caFile,
    [
      (await store.read(pipeline.caSecret))!.data[CA_KEYS.cert]!,
      (await store.read('connect-tls'))!.data[CERT_KEYS.ca]!,
    ].join('\n'),
  );
  w = await startTestWorker({
    ...recordingOverrides,
    kafkaConnect: {
      url: `https://127.0.0.1:${cfg.ports.connectHttps}`,
      caFile,
      auth: { secret: pipeline.connectRestSecret },
    },
  });
});
afterAll(async () => {
  await stopSampleApp(cfg);
  await stopLeftover(handle);
  await w?.stop();
});

const registryStatus = async (user: string, password: string) =>
  (
    await fetch(`http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7/subjects`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    })
  ).status;

describe('emergency rotate-all', () => {
  it('rotates the CDC user, the AWS key, the registry user, the Connect worker’s SCRAM principal, Connect’s REST user, the PostgreSQL admin password and (named) an application’s login with no grace and (asked) Connect’s certificate, as one tree, then validates everything; 0 lost', async () => {
    const oldCdc = (await store.read(pipeline.cdcSecret))!.data;
    const oldAws = (await store.read(pipeline.awsSecret))!.data;
    const oldRegistry = (await store.read(pipeline.registrySecret))!.data;
    const oldConnectCert = (await store.read('connect-tls'))!.info.fingerprint;
    expect(await registryStatus(oldRegistry['developer-user']!, oldRegistry['developer-password']!)).toBe(200);

    const db = await adminClient(cfg, pipeline.database);
    const run = await underLoad(
      { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 20 },
      async () => {
        handle = await w.client.workflow.start(emergencyRotateAll, {
          taskQueue: w.taskQueue,
          workflowId: `emergency-rotate-all/e2e-${Date.now()}`,
          // probe, the S3 sink's account: its connector must move too. developer (the CDC converter's) is the registry
          // e2e's subject; every account by default, as the workflow test shows. A 3 s watch for failing tasks after
          // each registry restart instead of the default 15 s (the input operators have).
          // With the credentials, the TLS material that was on it (include): here Connect's REST certificate, reissued and served.
          args: [
            {
              reason: 'e2e: a laptop with every pipeline credential was lost',
              requestedBy: 'e2e',
              registryAccounts: ['probe'],
              // the sample application's login too: an application's rotation runs only when its input names it
              inputs: { 'schema-registry': { clientWatch: 'PT3S' }, 'postgresql-app': {} },
              include: ['certificates'],
              certificateServices: ['kafka-connect'],
            },
          ],
        });
        return (await handle.result()) as EmergencyResult;
      },
    ).finally(() => db.end());
    await recordHistory(handle!, 'other-emergency-rotate-all-completed-v7');
    const result = run.result;
    console.info(`emergency: ${JSON.stringify(result)}`);
    expect(result.rotations.map((r) => [r.procedure, r.account ?? r.service, r.status])).toEqual([
      ['postgresql-cdc', undefined, 'completed'],
      ['aws-keys', undefined, 'completed'],
      ['schema-registry', 'probe', 'completed'],
      ['kafka-scram', undefined, 'completed'],
      ['connect-rest', undefined, 'completed'],
      ['postgresql-admin', undefined, 'completed'],
      ['postgresql-app', undefined, 'completed'],
      ['certificate', 'kafka-connect', 'completed'],
    ]);
    expect(result.validation?.failed).toEqual([]);
    expect(result.status).toBe('completed');
    expect(summarize(run.emails, run.deliveries).lost).toBe(0);

    // CDC: the old user is gone, the new one streams
    const state = await pipelineState();
    expect(state.cdcRoles).not.toContain(oldCdc['db-username']);
    expect(state.streamingUser).toBe((await store.read(pipeline.cdcSecret))!.data['db-username']);
    // AWS: only the new key exists
    const keys =
      (await new IAMClient(await awsClientConfig(cfg)).send(new ListAccessKeysCommand({ UserName: pipeline.awsUser })))
        .AccessKeyMetadata ?? [];
    expect(keys.map((k) => k.AccessKeyId)).toEqual([(await store.read(pipeline.awsSecret))!.data['access-key-id']]);
    expect(keys.map((k) => k.AccessKeyId)).not.toContain(oldAws['access-key-id']);
    // registry: the old user is refused, the new one accepted
    const now = (await store.read(pipeline.registrySecret))!.data;
    for (const account of ['probe']) {
      expect(await registryStatus(oldRegistry[`${account}-user`]!, oldRegistry[`${account}-password`]!), account).toBe(
        401,
      );
      expect(await registryStatus(now[`${account}-user`]!, now[`${account}-password`]!), account).toBe(200);
    }

    // the S3 sink authenticates as probe: it was moved to the new user and runs (the old one is refused)
    const sink = (await (
      await connectFetch(`http://127.0.0.1:${cfg.ports.connect}/connectors/s3-sink-connector/status`)
    ).json()) as { tasks: Array<{ state: string }> };
    expect(sink.tasks.map((t) => t.state)).toEqual(['RUNNING']);

    // the application's login: a new role, the application on it, not one query failed
    const app = result.rotations.find((r) => r.procedure === 'postgresql-app')!;
    expect(app.to).not.toBe(app.from);
    expect((await store.read(sampleApp.secret))!.data['db-username']).toBe(app.to);
    expect(sampleAppStats(cfg).reduce((n, x) => n + x.failed, 0)).toBe(0);

    // Connect's REST API: a new user, the old one refused (the child proved it; here, as any client sees it)
    const rest = result.rotations.find((r) => r.procedure === 'connect-rest')!;
    expect(rest.to).not.toBe(rest.from);
    expect((await store.read(pipeline.connectRestSecret))!.data.username).toBe(rest.to);

    // Connect's REST API: a new certificate in its secret (the child proved it served and trusted before it completed)
    const connectCert = (await store.read('connect-tls'))!.info.fingerprint;
    expect(connectCert).not.toBe(oldConnectCert);
    const cert = result.rotations.at(-1)!;
    expect(cert.to).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2})+$/);
    expect(cert.to).not.toBe(cert.from);

    // one tree: every rotation and the validation are children of the emergency run
    for (const id of [...new Set(result.rotations.map((r) => r.workflowId)), result.validation!.workflowId]) {
      const d = await w.client.workflow.getHandle(id).describe();
      expect(d.parentExecution?.workflowId, id).toBe(handle!.workflowId);
    }
    const { runId } = await handle!.describe();
    const audit = await auditLines(Object.assign(handle!, { firstExecutionRunId: runId }), w.config.audit.path);
    expect(audit.map((a) => `${a.action}:${a.status}`)).toEqual([
      'emergency_rotate_all:started',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'emergency_rotation:success',
      'access_validation:success',
      'emergency_rotate_all:success',
    ]);
    // and `rekey progress` reads the emergency's own state (its rotations), not a rotation's
    const cli = await rekey('progress', handle!.workflowId, '--json');
    expect(JSON.parse(cli.stdout)).toMatchObject({
      type: 'emergencyRotateAll',
      status: 'COMPLETED',
      state: {
        phase: expect.any(String),
        rotations: expect.arrayContaining([expect.objectContaining({ status: 'completed' })]),
      },
    });
    handle = undefined;
  });

  it('refuses to start without a reason, naming it', async () => {
    const h = await w.client.workflow.start(emergencyRotateAll, {
      taskQueue: w.taskQueue,
      workflowId: `emergency-rotate-all/e2e-bad-${Date.now()}`,
      args: [{ reason: 'oops' } as never],
    });
    await expect(h.result()).rejects.toMatchObject({
      cause: { type: 'InvalidInput', message: expect.stringMatching(/^invalid emergency input: reason: /) },
    });
    // `rekey progress` on an emergency run decodes its failure (it printed only "Encoded failure")
    const cli = await rekey('progress', h.workflowId, '--json');
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({
      type: 'emergencyRotateAll',
      status: 'FAILED',
      failure: expect.stringMatching(/^invalid emergency input: reason: /),
    });
  });
});
