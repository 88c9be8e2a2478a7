import type { KubeConfig } from '@kubernetes/client-node';
import { parseAccessLogSource } from './registryAccessLogSource.js';
import { logReader, requestsBy, type LogMark } from './logReader.js';

/**
 * Where the registry's access log stood. The field names are those of workflow histories
 * recorded before the pods source (`{source, offset}`), which replays still hand back.
 */
export type AccessLogMark = LogMark;

/** One access-log line: the request, its status and the user the registry authenticated ('-' when none). */
const ACCESS = /access "[^"]*" \d{3} (\S+)\s*$/;
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
  const reader = source === undefined ? undefined : logReader(source, deps.kubeConfig, 'REKEY_REGISTRY_ACCESS_LOG');

  async function registryAccessLogMark(): Promise<AccessLogMark | null> {
    return reader ? reader.mark() : null;
  }

  /** Requests the registry authenticated as each of `users` since `from` (a mark). */
  const registryRequestsBy = (input: { users: string[]; from: AccessLogMark }) => requestsBy(reader, ACCESS, input);

  return { registryAccessLogMark, registryRequestsBy };
}
