import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { verifyAuditStream } from '../../activities/auditStream.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/stack/config.js';
import { codecKeyFile } from '../../scripts/stack/codec.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { createClient } from '../../workers/client.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { pipelineState } from './pipeline.js';

/**
 * The image's contents, proven without a Docker engine: build dist/ as the Dockerfile does,
 * install production dependencies alone into an empty folder, and run the compiled worker
 * from there (no tsx, no TypeScript, no bundler at run time) until it completes a rotation.
 */
const { stack, config } = embeddedWorkerConfig();
const app = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-image-'));
const taskQueue = `rekey-image-${randomBytes(3).toString('hex')}`;
const healthPort = 23000 + Math.floor(Math.random() * 2000);
let worker: ChildProcess | undefined;
let log = '';

beforeAll(() => {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/build-worker.ts')], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(app, 'dist'), { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(repoRoot, f), path.join(app, f));
  // the Dockerfile's runtime stage: production dependencies only (served from npm's local cache)
  execFileSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: app,
    stdio: 'pipe',
  });
}, 600_000);

afterAll(() => {
  worker?.kill('SIGTERM');
  fs.rmSync(app, { recursive: true, force: true });
});

describe('the built worker (image contents)', () => {
  it('has no development tooling among its dependencies', () => {
    for (const dev of ['tsx', 'typescript', 'vitest', 'eslint', '@temporalio/testing'])
      expect(fs.existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    expect(fs.existsSync(path.join(app, 'dist/workflow-bundle.js'))).toBe(true);
  });

  it('runs `rekey --version` and `rekey --help` in under a second, without tsx', () => {
    const version = (JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as { version: string })
      .version;
    const timed = (arg: string) => {
      const t0 = performance.now();
      const out = execFileSync(process.execPath, ['dist/cli/bin.js', arg], {
        cwd: app,
        env: { PATH: process.env.PATH },
        encoding: 'utf8',
      });
      return { out, ms: performance.now() - t0 };
    };
    expect(timed('--version').out.trim()).toBe(version);
    // best of three: the machine runs two other test lanes beside this one
    const help = [timed('--help'), timed('--help'), timed('--help')];
    expect(help[0]!.out).toMatch(/rotate-postgres-cdc[\s\S]*emergency[\s\S]*cert/);
    expect(Math.min(...help.map((h) => h.ms))).toBeLessThan(1000);
  });

  it('starts from production dependencies alone and completes a rotation', async () => {
    const env = {
      PATH: process.env.PATH,
      REKEY_TEMPORAL_ADDRESS: config.temporal.address,
      REKEY_TASK_QUEUE: taskQueue,
      REKEY_CODEC_KEY_FILE: codecKeyFile(stack),
      REKEY_SECRET_STORE: 'file',
      REKEY_SECRETS_DIR: stack.secretsDir,
      REKEY_PG_HOST: config.postgres.host,
      REKEY_PG_PORT: String(config.postgres.port),
      REKEY_PG_DATABASE: config.postgres.database,
      REKEY_PG_ADMIN_SECRET: config.postgres.adminSecret,
      REKEY_CONNECT_URL: config.kafkaConnect.url,
      REKEY_CONNECT_AUTH_SECRET: config.kafkaConnect.auth?.secret,
      REKEY_KAFKA_BROKERS: config.kafka.brokers.join(','),
      // as the platform plan secures Kafka: SCRAM over TLS as rekey's principal
      REKEY_KAFKA_SASL_SECRET: config.kafka.sasl?.secret,
      REKEY_KAFKA_CA_FILE: config.kafka.caFile,
      REKEY_REGISTRY_URL: config.schemaRegistry.url,
      // as deploy/worker.yaml runs it: the audit trail on stdout (one chain per process), the health endpoint for the probes
      REKEY_AUDIT_LOG: 'stdout',
      REKEY_HEALTH_ADDRESS: `127.0.0.1:${healthPort}`,
    };
    worker = spawn(process.execPath, ['dist/workers/main.js'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 60_000;
    while (!log.includes('worker started')) {
      if (worker.exitCode !== null || Date.now() > deadline) throw new Error(`built worker did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(log).not.toMatch(/webpack|bundle created/i); // the pre-built bundle, no bundler at run time
    const { client, connection } = await createClient(config);
    try {
      const handle = await startPostgresCdcRotation(
        client,
        { target: 'ecommerce', gracePeriod: 'PT1S', requestedBy: 'image-test' },
        { taskQueue },
      );
      const result = (await handle.result()) as RotationResult;
      expect(result.status).toBe('completed');
      expect((await pipelineState()).streamingUser).toBe(result.to);
      // Ready, as the readiness probe asks
      expect(
        await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(async (r) => [
          r.status,
          ((await r.json()) as { worker: string }).worker,
        ]),
      ).toEqual([200, 'RUNNING']);
      // the audit trail as the log shipper keeps the pod's stdout: one writer's chain, intact, holding this rotation
      const shipped = path.join(app, 'stdout.log');
      fs.writeFileSync(shipped, log);
      const audit = await verifyAuditStream(shipped);
      expect(audit).toMatchObject({ ok: true, writers: [{ firstSeq: 1 }] });
      expect(audit.lines).toBeGreaterThan(5);
      expect(log).toContain(`"workflow_id":"${handle.workflowId}"`);
      // the operator CLI from the same package, as `rekey` in the image: the Temporal CLI's own variable names its server
      const rekey = (...args: string[]) =>
        execFileSync(process.execPath, ['dist/cli/bin.js', ...args], {
          cwd: app,
          env: {
            PATH: process.env.PATH,
            TEMPORAL_ADDRESS: config.temporal.address,
            REKEY_CODEC_KEY_FILE: codecKeyFile(stack),
          },
          encoding: 'utf8',
        });
      const progress = JSON.parse(rekey('progress', handle.workflowId, '--json')) as {
        workflowId: string;
        phase: string;
        to: string;
      };
      expect(progress).toMatchObject({ workflowId: handle.workflowId, phase: 'completed', to: result.to });
    } finally {
      await connection.close();
    }
  });
});
