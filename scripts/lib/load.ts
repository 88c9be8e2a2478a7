import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { Kafka, logLevel, type Consumer } from 'kafkajs';

/** Inserts rows into ecommerce.users at a steady rate, each with a unique email. */
export class InsertLoad {
  inserted = 0;
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
          await this.client.query('INSERT INTO public.users (email, name) VALUES ($1, $2)', [this.emailOf(this.inserted + 1), 'load']);
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

  constructor(
    private readonly brokers: string[],
    private readonly topic: string,
    private readonly emailPrefix: string,
  ) {}

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: 'rekey-watch', brokers: this.brokers, logLevel: logLevel.NOTHING });
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
        const event = JSON.parse(message.value.toString()) as { op?: string; after?: { email?: string } };
        const email = event.after?.email;
        if (event.op === 'c' && email?.startsWith(this.emailPrefix)) this.deliveries.push({ email, receivedAt: Date.now() });
      },
    });
    for (const o of offsets) this.consumer.seek({ topic: this.topic, partition: o.partition, offset: o.offset });
  }

  /** Waits until `expected` distinct emails arrived or the timeout passes. */
  async drain(expected: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (new Set(this.deliveries.map((d) => d.email)).size < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
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

/**
 * Runs `during` while rows are inserted at a steady rate and the topic is watched, then
 * waits (up to 60 s) until every inserted row has been delivered or is known lost.
 */
export async function underLoad<T>(opts: { db: pg.Client; brokers: string[]; topic: string; rate: number }, during: () => Promise<T>) {
  const runId = randomBytes(4).toString('hex');
  const load = new InsertLoad(opts.db, runId, opts.rate);
  const watcher = new TopicWatcher(opts.brokers, opts.topic, `load-${runId}-`);
  await watcher.start();
  load.start();
  let result: T;
  try {
    result = await during();
  } finally {
    await load.stop();
  }
  const emails = Array.from({ length: load.inserted }, (_, i) => load.emailOf(i + 1));
  await watcher.drain(emails.length, 60_000);
  await watcher.stop();
  return { result, emails, deliveries: watcher.deliveries };
}
