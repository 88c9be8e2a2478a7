import { Client, Connection } from '@temporalio/client';
import { dataConverter } from './codec.js';
import type { ClientConfig } from './config.js';
import { temporalConnectionOptions } from './tlsConfig.js';

/** A Temporal client that encodes and decodes payloads exactly as the worker does. */
export async function createClient(config: ClientConfig): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverter(config.codec),
  });
  return { client, connection };
}
