import { Client, Connection } from '@temporalio/client';
import { dataConverter } from './codec.js';
import type { ClientConfig } from './config.js';
import { temporalConnectionOptions } from './tlsConfig.js';

/** A Temporal client that encodes and decodes payloads exactly as the worker does (the converter is made before connecting: a missing key is said first). */
export async function createClient(
  config: ClientConfig,
  converter = dataConverter(config.codec),
): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: converter });
  return { client, connection };
}
