import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { StackConfig } from '../stack/config.js';
import { pipeline } from '../stack/config.js';
import { adminClient } from '../stack/postgres.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import { progressQuery, type RotationResult } from '../../workflows/rotation/index.js';
import { latencyProfile, summarize, underLoad } from './load.js';
import { uiLink } from './session.js';

export interface Measurement {
  rotation: {
    status: string;
    workflowId: string;
    oldUser: string | null;
    newUser: string | null;
    error: string | null;
    webUi: string;
    wallMs: number;
  };
  strategy: string;
  events: { inserted: number; delivered: number; lost: number; duplicates: number };
  blackoutMs: number;
  /** Commit-to-consumer latency: baseline (outside the switch) vs the switch window. */
  latency: ReturnType<typeof latencyProfile>;
  steps: Array<{ name: string; outcome: string; ms: number | null; detail?: string }>;
}

/**
 * One rotation under a steady insert load, watching the topic: how long change events
 * stopped around the switch (blackout), and whether any were lost or duplicated.
 */
export async function rotateUnderLoad(opts: {
  client: Client;
  stack: StackConfig;
  brokers: string[];
  taskQueue: string;
  strategy: 'reload-connector' | 'restart-worker';
  grace: string;
  rate: number;
  /** Load before the rotation starts, for the latency baseline. */
  warmupMs?: number;
  say?: (line: string) => void;
}): Promise<Measurement> {
  const say = opts.say ?? (() => undefined);
  const db = await adminClient(opts.stack, pipeline.database);
  const {
    result: run,
    emails,
    commits,
    deliveries,
  } = await underLoad(
    { db, brokers: opts.brokers, topic: pipeline.usersTopic, rate: opts.rate, warmupMs: opts.warmupMs },
    async () => {
      const t0 = Date.now();
      const handle = await startPostgresCdcRotation(
        opts.client,
        {
          target: 'ecommerce',
          strategy: opts.strategy,
          gracePeriod: opts.grace,
          reason: 'measured rotation',
          requestedBy: process.env.USER ?? 'rekey',
        },
        { taskQueue: opts.taskQueue },
      );
      say(`workflow ${handle.workflowId}\n  Web UI: ${uiLink(opts.stack, handle.workflowId)}`);
      let lastPhase = '';
      const poll = setInterval(() => {
        handle
          .query(progressQuery)
          .then((p) => {
            if (p.phase !== lastPhase) say(`  phase: ${(lastPhase = p.phase)}`);
          })
          .catch(() => undefined);
      }, 300);
      let result: RotationResult | undefined;
      let error: string | null = null;
      try {
        result = await handle.result();
      } catch (err) {
        error = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
      } finally {
        clearInterval(poll);
      }
      return { handle, result, error, wallMs: Date.now() - t0 };
    },
  ).finally(() => db.end());
  const { handle, result, error, wallMs } = run;
  const progress = await handle.query(progressQuery);
  const pause = progress.steps.find((s) => s.name === 'pause' || s.name === 'promote');
  const verified = progress.steps.find((s) => s.name === 'canary-read-back');
  const window =
    pause && verified?.endedAt ? { from: Date.parse(pause.startedAt), to: Date.parse(verified.endedAt) } : undefined;
  const events = summarize(emails, deliveries, window);
  return {
    rotation: {
      status: result?.status ?? 'failed',
      workflowId: handle.workflowId,
      oldUser: progress.from,
      newUser: progress.to,
      error,
      webUi: uiLink(opts.stack, handle.workflowId),
      wallMs,
    },
    strategy: opts.strategy,
    events: {
      inserted: events.inserted,
      delivered: events.delivered,
      lost: events.lost,
      duplicates: events.duplicates,
    },
    blackoutMs: events.blackoutMs,
    latency: latencyProfile(commits, deliveries, window),
    steps: progress.steps.map((s) => ({
      name: s.name,
      outcome: s.outcome,
      ms: s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : null,
      detail: s.detail,
    })),
  };
}
