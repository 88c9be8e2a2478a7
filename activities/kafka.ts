import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { Kafka, logLevel } from 'kafkajs';

export interface KafkaDeps {
  brokers: string[];
}

/** Reads change events back from the pipeline's topic (the canary check of a rotation). */
export function createKafkaActivities(deps: KafkaDeps) {
  const kafka = new Kafka({ clientId: 'rekey-worker', brokers: deps.brokers, logLevel: logLevel.NOTHING });

  /**
   * Waits until a change event whose `after.<field>` equals `value` appears on `topic`,
   * reading from the offsets at `sinceMs` (not the whole topic).
   */
  async function awaitChangeEvent(input: { topic: string; field: string; value: string; sinceMs: number; timeoutMs: number }): Promise<{ partition: number; offset: string }> {
    const admin = kafka.admin();
    await admin.connect();
    let starts: Array<{ partition: number; offset: string }>;
    try {
      starts = await admin.fetchTopicOffsetsByTimestamp(input.topic, input.sinceMs);
    } finally {
      await admin.disconnect();
    }
    const consumer = kafka.consumer({ groupId: `rekey-canary-${process.pid}-${Date.now()}`, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(ApplicationFailure.retryable(`no change event with ${input.field}=${input.value} on ${input.topic} within ${input.timeoutMs / 1000} s`, 'ChangeEventNotSeen')),
          input.timeoutMs,
        );
        const beat = setInterval(() => heartbeat('waiting for change event'), 2000);
        const done = (fn: () => void) => {
          clearTimeout(timer);
          clearInterval(beat);
          fn();
        };
        void consumer
          .subscribe({ topic: input.topic, fromBeginning: true })
          .then(() =>
            consumer.run({
              autoCommit: false,
              eachMessage: async ({ partition, message }) => {
                if (!message.value) return;
                const event = JSON.parse(message.value.toString()) as { after?: Record<string, unknown>; payload?: { after?: Record<string, unknown> } };
                const after = event.after ?? event.payload?.after;
                if (after && String(after[input.field]) === input.value) done(() => resolve({ partition, offset: message.offset }));
              },
            }),
          )
          .then(() => {
            for (const s of starts) consumer.seek({ topic: input.topic, partition: s.partition, offset: s.offset });
          })
          .catch((err: Error) => done(() => reject(err)));
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  return { awaitChangeEvent };
}
