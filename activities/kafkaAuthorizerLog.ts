import type { KubeConfig } from '@kubernetes/client-node';
import { logReader, type LogMark } from './logReader.js';
import { parseAccessLogSource } from './registryAccessLogSource.js';

/**
 * One decision of the broker's authorizer: StandardAuthorizer (and AclAuthorizer before it)
 * logs to `kafka.authorizer.logger` "Principal = User:<name> is Allowed operation = …" for each
 * allowed request at DEBUG, a denied one at INFO. The principal in it is the one the client
 * authenticated as: the broker's own record of who still logs in with which credential.
 */
const DECISION = /Principal = User:(\S+) is (Allowed|Denied) operation/;

/**
 * The broker's authorizer log as evidence of a SCRAM rotation's switch: a mark when the clients
 * moved, then the requests each principal made since. `REKEY_KAFKA_AUTHORIZER_LOG` names it,
 * `file:<path>` or `pods:<namespace>/<selector>[:<container>]` (Strimzi: the broker pods, with
 * `kafka.authorizer.logger` at DEBUG in the Kafka resource's logging). Without it the proof is
 * recorded as skipped.
 */
export function createKafkaAuthorizerLogActivities(deps: { authorizerLog?: string; kubeConfig?: KubeConfig }) {
  const source = deps.authorizerLog ? parseAccessLogSource(deps.authorizerLog) : undefined;
  if (typeof source === 'string') throw new Error(`REKEY_KAFKA_AUTHORIZER_LOG=${deps.authorizerLog}: ${source}`);
  const reader = source === undefined ? undefined : logReader(source, deps.kubeConfig, 'REKEY_KAFKA_AUTHORIZER_LOG');

  async function kafkaAuthorizerLogMark(): Promise<LogMark | null> {
    return reader ? reader.mark() : null;
  }

  /** The requests the brokers authorized (or denied) for each of `users` since `from`. */
  async function kafkaRequestsBy(input: {
    users: string[];
    from: LogMark;
  }): Promise<{ source: string; requests: Record<string, number>; lines: number }> {
    const requests: Record<string, number> = Object.fromEntries(input.users.map((u) => [u, 0]));
    if (!reader) return { source: 'none', requests, lines: 0 };
    const { lines: text, note } = await reader.read(input.from);
    let lines = 0;
    for (const line of text) {
      const m = DECISION.exec(line);
      if (!m) continue;
      lines++;
      if (Object.hasOwn(requests, m[1]!)) requests[m[1]!]!++;
    }
    return { source: note ? `${reader.label} (${note})` : reader.label, requests, lines };
  }

  return { kafkaAuthorizerLogMark, kafkaRequestsBy };
}
