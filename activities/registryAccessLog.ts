import fs from 'node:fs';

/** One access-log line: the request, its status and the user the registry authenticated ('-' when none). */
const ACCESS = /access "[^"]*" (\d{3}) (\S+)\s*$/;
/** At most this much of the log is read per look (a busy registry writes a line per request). */
const MAX_READ_BYTES = 64 * 1024 * 1024;

export interface AccessLogMark {
  source: string;
  offset: number;
}

/**
 * The registry's own record of whom it authenticated: its HTTP access log, one line per request
 * with the authenticated user (Quarkus' `quarkus.http.access-log` with `%u`, as Apicurio runs on
 * the embedded stack; Confluent's Jetty request log has the same field). Configured as
 * `REKEY_REGISTRY_ACCESS_LOG=file:<path>`; without it the rotation records the proof as
 * skipped. A mark is a byte offset, so a later look counts only the requests made since.
 */
export function createRegistryAccessLogActivities(deps: { accessLog?: string }) {
  const path = deps.accessLog?.replace(/^file:/, '');

  async function registryAccessLogMark(): Promise<AccessLogMark | null> {
    if (!path) return null;
    const size = (await fs.promises.stat(path).catch(() => undefined))?.size ?? 0;
    return { source: `file ${path}`, offset: size };
  }

  /** Requests the registry authenticated as each of `users` since `from` (a mark). */
  async function registryRequestsBy(input: { users: string[]; from: AccessLogMark }): Promise<{ source: string; requests: Record<string, number>; lines: number }> {
    const requests: Record<string, number> = Object.fromEntries(input.users.map((u) => [u, 0]));
    if (!path) return { source: 'none', requests, lines: 0 };
    const handle = await fs.promises.open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      // a log that shrank was rotated or truncated: read it from its start
      const start = size < input.from.offset ? 0 : Math.max(input.from.offset, size - MAX_READ_BYTES);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      let lines = 0;
      for (const line of buffer.toString('utf8').split('\n')) {
        const m = ACCESS.exec(line);
        if (!m) continue;
        lines++;
        if (m[2]! in requests) requests[m[2]!]!++;
      }
      return { source: `file ${path}`, requests, lines };
    } finally {
      await handle.close();
    }
  }

  return { registryAccessLogMark, registryRequestsBy };
}
