import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { pipeline, type StackConfig } from '../stack/config.js';
import { awsClientConfig } from '../stack/moto.js';

/**
 * What the archive holds, read as an auditor would (the emulator's administrator, not the
 * sink's key): every JSON line of the users topic's objects, and per email of a load run how
 * many times its insert was archived (0 = lost, > 1 = duplicated, at-least-once).
 */
export async function archivedEmails(cfg: StackConfig, emailPrefix: string): Promise<Map<string, number>> {
  const s3 = new S3Client(await awsClientConfig(cfg));
  const counts = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: pipeline.bucket,
        Prefix: `topics/${pipeline.usersTopic}/`,
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? []) {
      const body = await (
        await s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: o.Key! }))
      ).Body!.transformToString();
      for (const line of body.split('\n').filter(Boolean)) {
        const rec = JSON.parse(line) as { value?: { op?: string; after?: { email?: string } } };
        const email = rec.value?.after?.email;
        if (rec.value?.op === 'c' && email?.startsWith(emailPrefix)) counts.set(email, (counts.get(email) ?? 0) + 1);
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return counts;
}

/** Waits until every email is archived (or the timeout passes); returns lost and duplicates. */
export async function waitArchived(cfg: StackConfig, emails: string[], emailPrefix: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await archivedEmails(cfg, emailPrefix);
    const lost = emails.filter((e) => !counts.has(e)).length;
    if (lost === 0 || Date.now() > deadline) {
      const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
      return { inserted: emails.length, archived: counts.size, lost, duplicates };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
