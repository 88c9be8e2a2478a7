import type { ListObjectsV2CommandOutput, _Object } from '@aws-sdk/client-s3';

/** One ListObjectsV2 page under `prefix` (folded into CommonPrefixes with a delimiter). */
export type ListPage = (
  prefix: string,
  opts: { delimiter?: string; token?: string },
) => Promise<ListObjectsV2CommandOutput>;

/** At most this many ListObjectsV2 pages (1000 keys each) per folder listed. */
export const MAX_LIST_PAGES = 100;
/** The sink's layout below the prefix: topic, partition, day, hour. */
const LAYOUT_DEPTH = 4;
/** Per partition: the latest days and hours listed (a sink files a record under its timestamp's hour; two days cover midnight). */
const NEWEST_DAYS = 2;
const NEWEST_HOURS = 3;

/** The folders right under `prefix` (CommonPrefixes), in key order. */
async function folders(list: ListPage, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const out = await list(prefix, { delimiter: '/', token });
    for (const p of out.CommonPrefixes ?? []) if (p.Prefix) found.push(p.Prefix);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
    if (!token) break;
  }
  return found;
}

/**
 * The folders that hold the archive's newest objects. The S3 sink writes
 * `<topic>/partition=<p>/dt=<YYYY-MM-DD>/hour=<HH>/<topic>+<p>+<offset>.jsonl`, so inside a
 * partition key order is time order: every topic and partition, then only the latest two days
 * and, of those, the latest three hours. Listing the whole archive in key order instead goes
 * blind once it holds more than MAX_LIST_PAGES pages (≈ 12 days of one busy partition): S3
 * returns the newest objects last. Folders of another layout are all walked, LAYOUT_DEPTH deep.
 */
export async function newestFolders(list: ListPage, prefix: string, depth = 0): Promise<string[]> {
  const sub = depth < LAYOUT_DEPTH ? await folders(list, prefix) : [];
  if (sub.length === 0) return [prefix];
  const named = (re: RegExp) => sub.every((f) => re.test(f.slice(prefix.length)));
  if (named(/^hour=\d{2}\/$/)) return sub.slice(-NEWEST_HOURS);
  const days = named(/^dt=\d{4}-\d{2}-\d{2}\/$/);
  const leaves: string[] = [];
  for (const f of days ? sub.slice(-NEWEST_DAYS) : sub) leaves.push(...(await newestFolders(list, f, depth + 1)));
  return days ? leaves.slice(-NEWEST_HOURS) : leaves;
}

/** Every object in the archive's newest folders; `onPage` is told of each further page (to heartbeat). */
export async function newestArchiveObjects(
  list: ListPage,
  prefix: string,
  onPage?: (folder: string, pages: number) => void,
): Promise<_Object[]> {
  const objects: _Object[] = [];
  for (const folder of await newestFolders(list, prefix)) {
    let token: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const out = await list(folder, { token });
      objects.push(...(out.Contents ?? []));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
      if (!token) break;
      onPage?.(folder, page + 1);
    }
  }
  return objects;
}
