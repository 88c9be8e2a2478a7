import { createCdcDecoder } from './cdcDecode.js';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type Consumer } from 'kafkajs';

/** Inserts rows into ecommerce.users at a steady rate, each with a unique email. */
export class InsertLoad {
  inserted = 0;
  /** When each insert's commit returned (autocommit), in the order of emailOf(1…n). */
  readonly committedAt: number[] = [];
  errors = 0;
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly client: pg.Client,
    private readonly runId: string,
    private readonly ratePerSecond = 50,
  ) {}

  emailOf(n: number) {
    return `load-${this.runId}-${n}@example.invalid`;
  }

  start(): void {
    this.running = true;
    const interval = 1000 / this.ratePerSecond;
    this.loop = (async () => {
      const t0 = Date.now();
      while (this.running) {
        try {
          await this.client.query('INSERT INTO public.users (email, name) VALUES ($1, $2)', [
            this.emailOf(this.inserted + 1),
            'load',
          ]);
          this.committedAt.push(Date.now());
          this.inserted++;
        } catch {
          this.errors++;
        }
        const next = t0 + (this.inserted + this.errors) * interval;
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export interface Delivery {
  email: string;
  receivedAt: number;
}

/** Consumes the users topic and keeps, per email of this run, when each change event arrived. */
export class TopicWatcher {
  readonly deliveries: Delivery[] = [];
  private consumer?: Consumer;
  private readonly decode = createCdcDecoder();

  constructor(
    private readonly brokers: string[],
    private readonly topic: string,
    private readonly emailPrefix: string,
    /** TLS options (e.g. `{ ca }`): the watcher is then a client of a TLS listener and verifies its certificate. */
    private readonly ssl?: ConnectionOptions,
  ) {}

  async start(): Promise<void> {
    const kafka = new Kafka({
      clientId: 'rekey-watch',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      ...(this.ssl ? { ssl: this.ssl } : {}),
    });
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(this.topic).finally(() => admin.disconnect());
    this.consumer = kafka.consumer({ groupId: `rekey-watch-${process.pid}-${Date.now()}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const event = await this.decode(message.value);
        const email = event.after?.email as string | undefined;
        if (event.op === 'c' && email?.startsWith(this.emailPrefix))
          this.deliveries.push({ email, receivedAt: Date.now() });
      },
    });
    for (const o of offsets) this.consumer.seek({ topic: this.topic, partition: o.partition, offset: o.offset });
  }

  /** Waits until `expected` distinct emails arrived or the timeout passes. */
  async drain(expected: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (new Set(this.deliveries.map((d) => d.email)).size < expected && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Lost, duplicates and the longest gap between deliveries inside a window. */
export function summarize(inserted: string[], deliveries: Delivery[], window?: { from: number; to: number }) {
  const counts = new Map<string, number>();
  for (const d of deliveries) counts.set(d.email, (counts.get(d.email) ?? 0) + 1);
  const lost = inserted.filter((e) => !counts.has(e)).length;
  const duplicates = [...counts.values()].reduce((n, c) => n + (c - 1), 0);
  const times = deliveries
    .map((d) => d.receivedAt)
    .filter((t) => !window || (t >= window.from && t <= window.to))
    .sort((a, b) => a - b);
  let blackoutMs = 0;
  const edges = window ? [window.from, ...times, window.to] : times;
  for (let i = 1; i < edges.length; i++) blackoutMs = Math.max(blackoutMs, edges[i]! - edges[i - 1]!);
  return { inserted: inserted.length, delivered: counts.size, lost, duplicates, blackoutMs };
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * What a downstream consumer sees: per-event latency from commit to arrival at an
 * independent consumer. Baseline = events committed outside the rotation window; added
 * latency = the window's worst event − the baseline p99.
 */
export function latencyProfile(
  commits: Map<string, number>,
  deliveries: Delivery[],
  window?: { from: number; to: number },
) {
  const first = new Map<string, number>();
  for (const d of deliveries) if (!first.has(d.email)) first.set(d.email, d.receivedAt);
  const baseline: number[] = [];
  const during: number[] = [];
  for (const [email, committed] of commits) {
    const arrived = first.get(email);
    if (arrived === undefined) continue;
    (window && committed >= window.from && committed <= window.to ? during : baseline).push(arrived - committed);
  }
  baseline.sort((a, b) => a - b);
  during.sort((a, b) => a - b);
  const baselineP99Ms = percentile(baseline, 99);
  const windowMaxMs = during.at(-1) ?? null;
  return {
    baseline: {
      events: baseline.length,
      p50Ms: percentile(baseline, 50),
      p99Ms: baselineP99Ms,
      maxMs: baseline.at(-1) ?? null,
    },
    window: { events: during.length, maxMs: windowMaxMs },
    addedLatencyMs: windowMaxMs === null || baselineP99Ms === null ? null : Math.max(0, windowMaxMs - baselineP99Ms),
  };
}

/**
 * Runs `during` while rows are inserted at a steady rate and the topic is watched, then
 * waits (up to 60 s, or `drainMs`: a backlog after a Connect restart takes longer) until every inserted row has been delivered or is known lost.
 * `warmupMs` of load before `during` gives a latency baseline.
 */
export async function underLoad<T>(
  opts: {
    db: pg.Client;
    brokers: string[];
    topic: string;
    rate: number;
    warmupMs?: number;
    drainMs?: number;
    ssl?: ConnectionOptions;
  },
  during: () => Promise<T>,
) {
  const runId = randomBytes(4).toString('hex');
  const load = new InsertLoad(opts.db, runId, opts.rate);
  const watcher = new TopicWatcher(opts.brokers, opts.topic, `load-${runId}-`, opts.ssl);
  await watcher.start();
  load.start();
  if (opts.warmupMs) await new Promise((r) => setTimeout(r, opts.warmupMs));
  let result: T;
  try {
    result = await during();
  } finally {
    await load.stop();
  }
  const emails = Array.from({ length: load.inserted }, (_, i) => load.emailOf(i + 1));
  await watcher.drain(emails.length, opts.drainMs ?? 60_000);
  await watcher.stop();
  const commits = new Map(emails.map((e, i) => [e, load.committedAt[i]!]));
  return { result, emails, commits, deliveries: watcher.deliveries };
}
