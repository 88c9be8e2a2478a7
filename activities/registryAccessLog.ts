import fs from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAccessLogSource, type PodLogSource } from './registryAccessLogSource.js';
import { podLogReader } from './registryPodLogs.js';

/** One access-log line: the request, its status and the user the registry authenticated ('-' when none). */
const ACCESS = /access "[^"]*" (\d{3}) (\S+)\s*$/;
/** At most this much of the log is read per look (a busy registry writes a line per request): per file, per pod's log. */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/**
 * Where the registry's access log stood. The field names are those of workflow histories
 * recorded before the pods source (`{source, offset}`), which replays still hand back.
 */
export interface AccessLogMark {
  source: string;
  /** A file's size in bytes at the mark; 0 for pods. */
  offset: number;
  /** Pods: the worker's time of the mark (ISO 8601); a file's mark has none. */
  since?: string;
}

/** The lines of an access log since a mark, from one of its sources. */
interface AccessLogReader {
  label: string;
  mark(): Promise<AccessLogMark>;
  read(from: AccessLogMark): Promise<{ lines: string[]; note?: string }>;
}

/** A mark from another source cannot be placed in this one (REKEY_REGISTRY_ACCESS_LOG changed during a rotation). */
const foreignMark = (from: AccessLogMark, label: string) =>
  ApplicationFailure.nonRetryable(
    `the access-log mark was taken from ${from.source}, this worker reads ${label}: REKEY_REGISTRY_ACCESS_LOG changed during the rotation`,
    'AccessLogSourceChanged',
  );

/** A file: a mark is a byte offset. */
function fileReader(path: string): AccessLogReader {
  const label = `file ${path}`;
  return {
    label,
    mark: async () => ({ source: label, offset: (await fs.promises.stat(path).catch(() => undefined))?.size ?? 0 }),
    async read(from) {
      if (from.since !== undefined) throw foreignMark(from, label);
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
function podsReader(source: PodLogSource, kubeConfig: KubeConfig | undefined): AccessLogReader {
  const label = `pods ${source.namespace}/${source.selector}${source.container ? `:${source.container}` : ''}`;
  const pods = podLogReader(source, kubeConfig, MAX_READ_BYTES);
  return {
    label,
    mark: async () => ({ source: label, offset: 0, since: new Date().toISOString() }),
    async read(from) {
      if (from.since === undefined) throw foreignMark(from, label);
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

/**
 * The registry's own record of whom it authenticated: its HTTP access log, one line per request
 * with the authenticated user (Quarkus' `quarkus.http.access-log` with `%u`, as Apicurio runs on
 * the embedded stack; Confluent's Jetty request log has the same field). Configured as
 * `REKEY_REGISTRY_ACCESS_LOG=file:<path>` (a byte offset marks it), or
 * `pods:<namespace>/<selector>[:<container>]` on Kubernetes, where the log is the pods' stdout
 * (a time marks it; `kubeConfig` reaches the API). Without it the rotation records the proof as
 * skipped. A later look counts only the requests made since a mark.
 */
export function createRegistryAccessLogActivities(deps: { accessLog?: string; kubeConfig?: KubeConfig }) {
  const source = deps.accessLog ? parseAccessLogSource(deps.accessLog) : undefined;
  // the worker's configuration validated it already: a bad value here is a caller's mistake
  if (typeof source === 'string') throw new Error(`REKEY_REGISTRY_ACCESS_LOG=${deps.accessLog}: ${source}`);
  const reader =
    source === undefined
      ? undefined
      : source.kind === 'file'
        ? fileReader(source.path)
        : podsReader(source, deps.kubeConfig);

  async function registryAccessLogMark(): Promise<AccessLogMark | null> {
    return reader ? reader.mark() : null;
  }

  /** Requests the registry authenticated as each of `users` since `from` (a mark). */
  async function registryRequestsBy(input: {
    users: string[];
    from: AccessLogMark;
  }): Promise<{ source: string; requests: Record<string, number>; lines: number }> {
    const requests: Record<string, number> = Object.fromEntries(input.users.map((u) => [u, 0]));
    if (!reader) return { source: 'none', requests, lines: 0 };
    const { lines: text, note } = await reader.read(input.from);
    let lines = 0;
    for (const line of text) {
      const m = ACCESS.exec(line);
      if (!m) continue;
      lines++;
      // own keys only: a user named like an Object method (`constructor`) is not a count
      if (Object.hasOwn(requests, m[2]!)) requests[m[2]!]!++;
    }
    return { source: note ? `${reader.label} (${note})` : reader.label, requests, lines };
  }

  return { registryAccessLogMark, registryRequestsBy };
}
