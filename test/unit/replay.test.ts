import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { parsePostgresCdcInput } from '../../contracts/input/postgresCdc.js';
import { parseSchemaRegistryInput } from '../../contracts/input/schemaRegistry.js';
import { parseAwsKeysInput } from '../../contracts/input/awsKeys.js';
import { rotationWorkflowId } from '../../workflows/rotation/index.js';

const dir = path.resolve(import.meta.dirname, '..', 'histories');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
const read = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));

interface JsonEvent {
  eventType: string;
  workflowExecutionStartedEventAttributes?: { input?: { payloads?: Array<{ data?: string }> } };
  markerRecordedEventAttributes?: {
    markerName: string;
    details?: Record<string, { payloads?: Array<{ data?: string }> }>;
  };
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
}

/** Patch ids a history recorded (`patched(...)` markers). */
function patchesOf(f: string): string[] {
  const events = (read(f) as { events: JsonEvent[] }).events;
  return events
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_patch')
    .map(
      (m) =>
        (JSON.parse(Buffer.from(m!.details!['patch-data']!.payloads![0]!.data!, 'base64').toString()) as { id: string })
          .id,
    );
}

/**
 * The workflow id a history ran under. The kit refuses any id but its resource's (one
 * rotation per secret), so a kit history replays only under `rotate-postgresql-cdc/<secret>`,
 * derived from its input as startRotation derives it. Pre-kit runs did not depend on their id.
 */
function workflowIdOf(f: string): string {
  const recordedId = path.join(dir, f.replace(/\.json$/, '.id'));
  if (fs.existsSync(recordedId)) return fs.readFileSync(recordedId, 'utf8').trim();
  if (!isKit(f)) return f;
  const started = (read(f) as { events: JsonEvent[] }).events[0]!.workflowExecutionStartedEventAttributes!;
  const input: unknown = JSON.parse(Buffer.from(started.input!.payloads![0]!.data!, 'base64').toString());
  if (isRegistry(f)) return rotationWorkflowId('schema-registry', parseSchemaRegistryInput(input).secret);
  if (isAws(f)) return rotationWorkflowId('aws-keys', parseAwsKeysInput(input).secret);
  return rotationWorkflowId('postgresql-cdc', parsePostgresCdcInput(input).secret);
}

/**
 * v3-kit: the kit (v3-kit-ordered-audit: with ordered audit appends); v4-kit: the ordered-audit
 * patch decided before the first local activity; v5-kit: with the final access validation;
 * v6-kit: rollbacks that stop the wait in flight, AWS keys as IAM really behaves; v7-kit: the
 * lease on the connector; v8-kit: the AWS rotation's canary through the sink.
 */
const isKit = (f: string) => /^v[3-8]-kit-/.test(f);
/** With the final access validation (v5 and later). */
const isV5 = (f: string) => /^v[5-8]-kit-/.test(f);
const isV6 = (f: string) => /^v[6-8]-kit-/.test(f);
const isV7 = (f: string) => /^v[78]-kit-/.test(f);
const isRegistry = (f: string) => f.includes('-schema-registry-');
const isAws = (f: string) => f.includes('-aws-keys-');
const kit = files.filter((f) => isKit(f) && !isRegistry(f) && !isAws(f));
/** Procedures born on the kit: they carry no patches. */
const registry = files.filter(isRegistry);
const aws = files.filter(isAws);
/** Workflows other than the rotation procedures (schedules' launcher, emergency, validation), recorded with their workflow id. */
const isOther = (f: string) => f.startsWith('other-');
const others = files.filter(isOther);
const preKit = files.filter((f) => !isKit(f) && !isOther(f));

/**
 * Replays histories recorded from real runs (REKEY_RECORD_HISTORIES=1 npm test) against
 * today's workflow code: a change that would break running rotations fails here.
 */
describe('replay of recorded rotation histories', () => {
  // the workflow code bundled once by the fast lane's setup (test/fastSetup.ts), as a worker loads it
  const workflowBundle = { codePath: inject('workflowBundlePath') };

  it('has histories from before the rotation kit and from the kit, for every outcome', () => {
    expect(preKit.length).toBeGreaterThanOrEqual(12);
    expect(kit.sort()).toEqual(
      expect.arrayContaining([
        'v3-kit-cancelled-during-grace.json',
        'v3-kit-completed-reload-connector.json',
        'v3-kit-completed-restart-worker.json',
        'v3-kit-needs-attention-retried.json',
        'v3-kit-one-rotation-per-resource.json',
        'v3-kit-rolled-back-by-signal.json',
        'v3-kit-ordered-audit-completed-reload-connector.json',
        'v3-kit-ordered-audit-rolled-back-by-signal.json',
        'v4-kit-completed-reload-connector.json',
        'v4-kit-rolled-back-by-signal.json',
      ]),
    );
    expect(registry.sort()).toEqual(
      expect.arrayContaining([
        'v4-kit-schema-registry-completed.json',
        'v4-kit-schema-registry-rolled-back-signal.json',
        'v5-kit-schema-registry-completed.json',
      ]),
    );
    expect(aws.sort()).toEqual(
      expect.arrayContaining([
        'v4-kit-aws-keys-completed.json',
        'v4-kit-aws-keys-rolled-back-signal.json',
        'v5-kit-aws-keys-completed.json',
      ]),
    );
    expect(kit).toEqual(
      expect.arrayContaining([
        'v5-kit-completed-reload-connector.json',
        'v5-kit-rolled-back-by-signal.json',
        'v6-kit-completed-reload-connector.json',
        'v6-kit-rolled-back-by-signal.json',
      ]),
    );
    expect(aws).toEqual(
      expect.arrayContaining([
        'v6-kit-aws-keys-completed.json',
        'v7-kit-aws-keys-completed.json',
        'v8-kit-aws-keys-completed.json',
      ]),
    );
    expect(kit).toEqual(
      expect.arrayContaining(['v7-kit-completed-reload-connector.json', 'v7-kit-rolled-back-by-signal.json']),
    );
    expect(others.sort()).toEqual(
      expect.arrayContaining([
        'other-run-scheduled-e2e-cdc.json',
        'other-run-scheduled-e2e-late.json',
        'other-run-scheduled-e2e-validate.json',
        'other-validate-pipeline-passed.json',
      ]),
    );
  });

  it('pre-kit histories carry no rotation-kit marker (they replay through the frozen legacy code); kit histories do', () => {
    for (const f of preKit) expect(patchesOf(f), f).not.toContain('rotation-kit');
    for (const f of kit) expect(patchesOf(f), f).toContain('rotation-kit');
    // audit appends chained in order (patched): both generations of kit histories must replay
    for (const f of kit)
      expect(patchesOf(f).includes('ordered-audit'), f).toBe(
        f.startsWith('v3-kit-ordered-audit-') || f.startsWith('v4-kit-') || isV5(f),
      );
    // the Schema Registry and AWS procedures were born on the kit: no patches until the final validation
    for (const f of [...registry, ...aws].filter((x) => !isV5(x))) expect(patchesOf(f), f).toEqual([]);
    // a completed run since then carries the final-validation marker (a rolled-back one never reaches it)
    for (const f of files.filter((x) => isV5(x) && x.includes('-completed')))
      expect(patchesOf(f), f).toContain('final-validation');
    // v6: the waits a rollback stops (every procedure), and the AWS order IAM requires
    for (const f of files.filter(isV6)) expect(patchesOf(f), f).toContain('rollback-interrupts-waits');
    expect(patchesOf('v6-kit-aws-keys-completed.json')).toContain('aws-iam-eventual-consistency');
    // v7: the lease on the connector, taken at the first change
    for (const f of files.filter(isV7)) expect(patchesOf(f), f).toContain('workload-lease');
    // v8: the AWS rotation proves the sink's switch with a canary, decided before the plan's local activity
    expect(patchesOf('v8-kit-aws-keys-completed.json')).toContain('aws-sink-canary');
    expect(patchesOf('other-emergency-rotate-all-completed-v3.json')).toEqual(
      expect.arrayContaining(['emergency-every-registry-account']),
    );
  });

  it('replays every one of them without nondeterminism', async () => {
    // one replay worker for the whole folder; the SDK parses the CLI's / Web UI's JSON export itself
    const histories = files.map((f) => ({
      workflowId: workflowIdOf(f),
      history: read(f) as Parameters<typeof Worker.runReplayHistory>[1],
    }));
    const fileOf = new Map(files.map((f) => [workflowIdOf(f), f]));
    const failures: string[] = [];
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle, replayName: 'rekey-replay' }, histories)) {
      replayed++;
      if (r.error) failures.push(`${fileOf.get(r.workflowId) ?? r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });

  it('is not vacuous: a history whose commands differ from the code fails to replay, and so does a kit history under a foreign id', async () => {
    await expect(
      Worker.runReplayHistory(
        { workflowBundle, replayName: 'rekey-replay-foreign-id' },
        read('v3-kit-completed-reload-connector.json'),
        'my-own-id',
      ),
    ).rejects.toThrow(/[Nn]ondetermin/);
    for (const f of ['v3-kit-completed-reload-connector.json', 'completed-reload-connector.json']) {
      const history = read(f) as { events: JsonEvent[] };
      const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes)!;
      scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'notWhatTheCodeSchedules';
      await expect(
        Worker.runReplayHistory({ workflowBundle, replayName: 'rekey-replay-tampered' }, history, workflowIdOf(f)),
        f,
      ).rejects.toThrow(/[Nn]ondetermin|DeterminismViolation|does not match/);
    }
  });
});
