import fs from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import type { KubeConfig } from '@kubernetes/client-node';
import type { AccessLogSource, PodLogSource } from './registryAccessLogSource.js';
import { podLogReader } from './registryPodLogs.js';

/**
 * A log read since a mark, from a file (a mark is a byte offset) or from pods' stdout through
 * the Kubernetes API (a mark is a time): the registry's access log, Kafka's authorizer log.
 */

/** At most this much of a log is read per look (a busy registry or broker writes a line per request): per file, per pod's log. */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/**
 * Where a log stood. The field names are those of the registry rotation's histories recorded
 * before the pods source (`{source, offset}`), which replays still hand back.
 */
export interface LogMark {
  source: string;
  /** A file's size in bytes at the mark; 0 for pods. */
  offset: number;
  /** Pods: the worker's time of the mark (ISO 8601); a file's mark has none. */
  since?: string;
}

/** The lines of a log since a mark, from one of its sources. */
export interface LogReader {
  label: string;
  mark(): Promise<LogMark>;
  read(from: LogMark): Promise<{ lines: string[]; note?: string }>;
}

/** A mark from another source cannot be placed in this one (the setting, e.g. REKEY_REGISTRY_ACCESS_LOG, changed during a rotation). */
const foreignMark = (from: LogMark, label: string, setting: string) =>
  ApplicationFailure.nonRetryable(
    `the log mark was taken from ${from.source}, this worker reads ${label}: ${setting} changed during the rotation`,
    'AccessLogSourceChanged',
  );

/** A file: a mark is a byte offset. */
function fileReader(path: string, setting: string): LogReader {
  const label = `file ${path}`;
  return {
    label,
    mark: async () => ({ source: label, offset: (await fs.promises.stat(path).catch(() => undefined))?.size ?? 0 }),
    async read(from) {
      if (from.since !== undefined) throw foreignMark(from, label, setting);
      const handle = await fs.promises.open(path, 'r');
      try {
        const size = (await handle.stat()).size;
        // a log that shrank was rotated or truncated: read it from its start
        const start = size < from.offset ? 0 : Math.max(from.offset, size - MAX_READ_BYTES);
        const buffer = Buffer.alloc(size - start);
        await handle.read(buffer, 0, buffer.length, start);
        return { lines: buffer.toString('utf8').split('\n') };
      } finally {
        await handle.close();
      }
    },
  };
}

/** The registry's pods' stdout through the Kubernetes API: a mark is a time. */
function podsReader(source: PodLogSource, kubeConfig: KubeConfig | undefined, setting: string): LogReader {
  const label = `pods ${source.namespace}/${source.selector}${source.container ? `:${source.container}` : ''}`;
  const pods = podLogReader(source, kubeConfig, MAX_READ_BYTES);
  return {
    label,
    mark: async () => ({ source: label, offset: 0, since: new Date().toISOString() }),
    async read(from) {
      if (from.since === undefined) throw foreignMark(from, label, setting);
      const { lines, capped } = await pods.since(from.since);
      return {
        lines,
        note: capped.length
          ? `only the first ${MAX_READ_BYTES / 1024 / 1024} MiB after the mark of ${capped.join(', ')}`
          : undefined,
      };
    },
  };
}

/** The reader of a configured source; `setting` names it in errors (e.g. REKEY_REGISTRY_ACCESS_LOG). */
export function logReader(source: AccessLogSource, kubeConfig: KubeConfig | undefined, setting: string): LogReader {
  return source.kind === 'file' ? fileReader(source.path, setting) : podsReader(source, kubeConfig, setting);
}

/**
 * The lines since `from` that `line` attributes to each of `users` (its first group is the user),
 * with how many lines it recognised and the source they came from.
 */
export async function requestsBy(
  reader: LogReader | undefined,
  line: RegExp,
  input: { users: string[]; from: LogMark },
): Promise<{ source: string; requests: Record<string, number>; lines: number }> {
  const requests: Record<string, number> = Object.fromEntries(input.users.map((u) => [u, 0]));
  if (!reader) return { source: 'none', requests, lines: 0 };
  const { lines: text, note } = await reader.read(input.from);
  let lines = 0;
  for (const l of text) {
    const m = line.exec(l);
    if (!m) continue;
    lines++;
    // own keys only: a user named like an Object method (`constructor`) is not a count
    if (Object.hasOwn(requests, m[1]!)) requests[m[1]!]!++;
  }
  return { source: note ? `${reader.label} (${note})` : reader.label, requests, lines };
}
