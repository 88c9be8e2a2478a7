import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AwsSdk } from '../../activities/awsSdk.js';
import { createS3Activities } from '../../activities/awsS3.js';

/**
 * ListObjectsV2 as S3 answers it (key order, 1000 entries a page, Delimiter folding keys into
 * CommonPrefixes, continuation tokens), over an in-memory bucket: a stand-in for one function's
 * unit test. What it proves: the "sink still writes" check finds the newest object of a big
 * archive, where S3 returns the newest objects last.
 */
class ListingS3 {
  calls = 0;
  constructor(private readonly objects: Array<{ key: string; at: Date }>) {
    this.objects.sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  async send(cmd: { input: { Prefix?: string; Delimiter?: string; ContinuationToken?: string } }) {
    this.calls++;
    const { Prefix = '', Delimiter, ContinuationToken } = cmd.input;
    const entries: Array<{ key: string; at?: Date; folder?: boolean }> = [];
    for (const o of this.objects) {
      if (!o.key.startsWith(Prefix) || (ContinuationToken && o.key <= ContinuationToken)) continue;
      const cut = Delimiter ? o.key.indexOf(Delimiter, Prefix.length) : -1;
      if (cut < 0) entries.push({ key: o.key, at: o.at });
      else if (entries.at(-1)?.key !== o.key.slice(0, cut + 1))
        entries.push({ key: o.key.slice(0, cut + 1), folder: true });
      if (entries.length > 1000) break;
    }
    const page = entries.slice(0, 1000);
    // a folder's token skips every key inside it
    const last = page.at(-1);
    const token = last?.folder ? `${last.key}\uffff` : last?.key;
    return {
      Contents: page.filter((e) => !e.folder).map((e) => ({ Key: e.key, LastModified: e.at })),
      CommonPrefixes: page.filter((e) => e.folder).map((e) => ({ Prefix: e.key })),
      IsTruncated: entries.length > 1000,
      NextContinuationToken: entries.length > 1000 ? token : undefined,
    };
  }
}

const sdk = {
  s3: {
    ListObjectsV2Command: class {
      constructor(readonly input: unknown) {}
    },
  },
} as unknown as AwsSdk;
const activities = (s3: ListingS3) =>
  createS3Activities({
    aws: async () => ({ sdk, s3: s3 as unknown as S3Client }),
    call: (_what, run) => run(),
    must: async () => {
      throw new Error('unused');
    },
    client: { region: 'us-east-1' },
  });

const topic = 'ecommerce.public.users';
const key = (partition: number, at: Date, offset: number) =>
  `topics/${topic}/partition=${partition}/dt=${at.toISOString().slice(0, 10)}/hour=${at.toISOString().slice(11, 13)}/${topic}+${partition}+${offset}.jsonl`;

describe('the sink-writes check on a big archive', () => {
  it('finds the object written after the restart among 150 000 older ones, listing only the newest folders', async () => {
    const now = new Date('2026-12-07T03:20:00Z');
    const objects: Array<{ key: string; at: Date }> = [];
    // 12 days of two busy partitions: 150 000 objects, all before the restart
    for (let i = 0; i < 150_000; i++) {
      const at = new Date(now.getTime() - 12 * 86_400_000 + i * 6_900);
      objects.push({ key: key(i % 2, at, i), at });
    }
    const restartedAt = new Date(now.getTime() - 60_000);
    const fresh = { key: key(1, now, 150_001), at: now };
    const s3 = new ListingS3([...objects, fresh]);
    const found = await new MockActivityEnvironment().run(activities(s3).newestObjectSince, {
      bucket: 'b',
      prefix: 'topics/',
      since: restartedAt.toISOString(),
    });
    expect(found).toEqual({ key: fresh.key, lastModified: now.toISOString() });
    // topics, partitions, days and hours per partition, then at most three hour folders each: not 150 pages
    expect(s3.calls).toBeLessThan(30);
  });

  it('finds nothing when nothing was written after `since`, and objects outside the layout are still seen', async () => {
    const at = new Date('2026-12-07T01:00:00Z');
    const s3 = new ListingS3([
      { key: key(0, at, 1), at },
      { key: 'topics/other/a.jsonl', at: new Date('2026-12-07T02:00:00Z') },
    ]);
    const list = activities(s3).newestObjectSince;
    expect(
      await new MockActivityEnvironment().run(list, { bucket: 'b', prefix: 'topics/', since: '2026-12-07T03:00:00Z' }),
    ).toBeNull();
    expect(
      await new MockActivityEnvironment().run(list, { bucket: 'b', prefix: 'topics/', since: '2026-12-07T01:30:00Z' }),
    ).toEqual({ key: 'topics/other/a.jsonl', lastModified: '2026-12-07T02:00:00.000Z' });
  });
});
