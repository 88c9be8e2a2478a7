import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { loadStackConfig, pipeline, searchAttributes } from '../../scripts/stack/config.js';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../../activities/index.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { workflowsPath } from '../../workers/worker.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { rotatePostgresCdcCredentials } from '../../workflows/postgresCdc/workflow.js';
import { rotationWorkflowId } from '../../workflows/rotation/index.js';
import { onlyRoles, pipelineState } from './pipeline.js';

const stack = loadStackConfig();
const testServer = path.join(stack.cache, 'testserver-1.31.0', 'temporal-test-server');

describe('the default 24 h grace period (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    if (!fs.existsSync(testServer)) throw new Error(`time-skipping test server missing at ${testServer}: run bash scripts/stack/install-jvm.sh`);
    // Java test server from Maven Central, never a runtime download
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServer } } });
    // the test server starts without rekey's search attributes
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(searchAttributes.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('holds the old user for 24 h of workflow time, then drops it, in seconds of wall time', async () => {
    const { config } = embeddedWorkerConfig();
    const before = await pipelineState();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'rekey-time-skipping',
      workflowsPath,
      activities: createActivities({
        store: new FileSecretStore(config.secrets.kind === 'file' ? config.secrets.dir : ''),
        postgres: config.postgres,
        kafkaConnect: { url: config.kafkaConnect.url },
        kafka: config.kafka,
        audit: config.audit,
      }),
    });
    const t0 = Date.now();
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(rotatePostgresCdcCredentials, {
        taskQueue: 'rekey-time-skipping',
        workflowId: rotationWorkflowId('postgresql-cdc', pipeline.cdcSecret),
        args: [{ target: 'ecommerce', requestedBy: 'time-skipping test' }],
      });
      const graceStart = await env.currentTimeMs();
      const r = await handle.result();
      return { ...r, workflowElapsedMs: (await env.currentTimeMs()) - graceStart };
    });
    expect(result.status).toBe('completed');
    expect(result.workflowElapsedMs).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(Date.now() - t0).toBeLessThan(180_000);
    // step times are workflow time: the old user was retired 24 h after the rotation was verified
    const retired = result.steps.find((s) => s.name === 'retire-old-user')!;
    const verified = result.steps.find((s) => s.name === 'canary-read-back')!;
    expect(Date.parse(retired.startedAt) - Date.parse(verified.endedAt!)).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(Date.parse(retired.startedAt) - Date.parse(verified.endedAt!)).toBeLessThan(25 * 3600_000);
    expect(result.from).toBe(before.secretUser);
    const after = await pipelineState();
    expect(after.cdcRoles).toEqual(onlyRoles(result.to));
    expect(after.streamingUser).toBe(result.to);
    expect(after.hasPending || after.hasBackup).toBe(false);
  });
});
