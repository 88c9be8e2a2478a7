import type { KubeConfig } from '@kubernetes/client-node';
import { logReader, requestsBy, type LogMark } from './logReader.js';
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
  const kafkaRequestsBy = (input: { users: string[]; from: LogMark }) => requestsBy(reader, DECISION, input);

  return { kafkaAuthorizerLogMark, kafkaRequestsBy };
}
