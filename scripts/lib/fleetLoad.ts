import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { FleetTarget } from '../stack/fleet.js';

/**
 * Inserts into every target's users table in turn, `ratePerSecond` rows in all, so each
 * target's connector is streaming while its credential changes. Emails carry the run id
 * and the row number, so the watcher can tell lost from duplicated from someone else's.
 */
export class FleetLoad {
  readonly runId = randomBytes(4).toString('hex');
  readonly inserted = new Map<string, string[]>();
  errors = 0;
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly db: pg.Client,
    private readonly targets: FleetTarget[],
    private readonly ratePerSecond: number,
  ) {
    for (const t of targets) this.inserted.set(t.name, []);
  }

  start(): void {
    this.running = true;
    const interval = 1000 / this.ratePerSecond;
    this.loop = (async () => {
      const t0 = Date.now();
      for (let n = 0; this.running; n++) {
        const t = this.targets[n % this.targets.length]!;
        const email = `fleet-${this.runId}-${n}@example.invalid`;
        try {
          await this.db.query(`INSERT INTO ${this.db.escapeIdentifier(t.schema)}.users (email) VALUES ($1)`, [email]);
          this.inserted.get(t.name)!.push(email);
        } catch {
          this.errors++;
        }
        const wait = t0 + (n + 1) * interval - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** One consumer on every target's users topic, from the current end: what arrived, per target. */
export class FleetWatcher {
  readonly delivered = new Map<string, string[]>();
  private consumer?: Consumer;
  private readonly byTopic: Map<string, string>;

  constructor(
    private readonly brokers: string[],
    targets: FleetTarget[],
    private readonly emailPrefix: string,
  ) {
    this.byTopic = new Map(targets.map((t) => [t.usersTopic, t.name]));
    for (const t of targets) this.delivered.set(t.name, []);
  }

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: 'rekey-fleet-watch', brokers: this.brokers, logLevel: logLevel.NOTHING });
    this.consumer = kafka.consumer({ groupId: `rekey-fleet-watch-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 200 });
    await this.consumer.connect();
    // Debezium creates a topic with its first event; subscribing before the broker has a leader for
    // it fails ("does not host this topic-partition"): create them first, waiting for their leaders
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [...this.byTopic.keys()].map((topic) => ({ topic })) });
    } finally {
      await admin.disconnect();
    }
    // from the beginning, filtered by this run's emails: no race between subscribing and the first insert
    await this.consumer.subscribe({ topics: [...this.byTopic.keys()], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachMessage: async ({ topic, message }) => {
        if (!message.value) return;
        const event = JSON.parse(message.value.toString('utf8')) as { op?: string; after?: { email?: string } | null };
        const email = event.after?.email;
        if (event.op === 'c' && email?.startsWith(this.emailPrefix))
          this.delivered.get(this.byTopic.get(topic)!)!.push(email);
      },
    });
  }

  /** Waits until every inserted email arrived (or the timeout passes). */
  async drain(inserted: Map<string, string[]>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const missing = () =>
      [...inserted].some(([name, emails]) => new Set(this.delivered.get(name)).size < emails.length);
    while (missing() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Lost and duplicated change events per target. */
export function fleetDelivery(inserted: Map<string, string[]>, delivered: Map<string, string[]>) {
  return [...inserted].map(([target, emails]) => {
    const got = delivered.get(target) ?? [];
    const seen = new Set(got);
    return {
      target,
      inserted: emails.length,
      delivered: seen.size,
      lost: emails.filter((e) => !seen.has(e)).length,
      duplicates: got.length - seen.size,
    };
  });
}
