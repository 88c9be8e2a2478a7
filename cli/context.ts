import os from 'node:os';
import { InvalidArgumentError } from 'commander';
import type { Client } from '@temporalio/client';
import {
  type ClientConfig,
  type Json,
  loadClientConfig,
  loadWorkerConfig,
  productionDefaults,
  type WorkerConfig,
} from '../workers/config.js';
import { parseIsoDuration } from '../contracts/duration.js';

/**
 * What every `rekey` command shares: who runs it, how the client is configured, argument
 * parsers. The configuration comes from the environment the worker reads (REKEY_*), with the
 * Temporal CLI's own names as a fallback (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) and the global
 * flags on top; a development wrapper (scripts/rekey.ts) injects the embedded stack's defaults.
 */

/** The OS user running the command: the default of every --requested-by / --by. */
export const operator = (() => {
  try {
    return os.userInfo().username || process.env.USER || 'operator';
  } catch {
    return process.env.USER ?? 'operator';
  }
})();

export function duration(v: string) {
  if (parseIsoDuration(v) === undefined) throw new InvalidArgumentError('must be an ISO-8601 duration such as PT24H');
  return v;
}

export function seconds(v: string) {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number of seconds');
  return n;
}

interface CliSettings {
  env: NodeJS.ProcessEnv;
  /** Defaults under the environment (the embedded stack's, from scripts/rekey.ts); the worker's production defaults otherwise. */
  defaults?: Json;
  /** Leave TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE out (the development wrapper: the stack is the server). */
  ignoreTemporalCliEnv?: boolean;
  /** --address / --namespace, over every environment variable. */
  address?: string;
  namespace?: string;
}
let settings: CliSettings = { env: process.env };

/** Set once by the entry point before the commands run. */
export function configureCli(next: Partial<CliSettings>): void {
  settings = { ...settings, ...next };
}

/** The environment with the flags applied: a flag beats every setting. */
function effectiveEnv(): NodeJS.ProcessEnv {
  const env = { ...settings.env };
  if (settings.address) env.REKEY_TEMPORAL_ADDRESS = settings.address;
  if (settings.namespace) env.REKEY_TEMPORAL_NAMESPACE = settings.namespace;
  return env;
}

/**
 * The defaults under the environment and REKEY_CONFIG, with the Temporal CLI's own variables
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) on top of them: flags ← REKEY_* ← REKEY_CONFIG ←
 * TEMPORAL_* ← defaults. The development wrapper turns them off: in a checkout the stack is
 * the server unless --address or REKEY_TEMPORAL_ADDRESS says otherwise.
 */
function effectiveDefaults(): Json {
  const base = (settings.defaults ?? productionDefaults) as Json & { temporal?: Json };
  if (settings.ignoreTemporalCliEnv) return base;
  const { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace } = settings.env;
  return {
    ...base,
    temporal: { ...base.temporal, ...(address ? { address } : {}), ...(namespace ? { namespace } : {}) },
  };
}

/** The worker's whole configuration: the commands that read the secret store or the services themselves (cert list, cert issue). */
export function configFromEnv(): WorkerConfig {
  return loadWorkerConfig(effectiveEnv(), effectiveDefaults());
}

/** What every other command needs: Temporal's address, namespace, task queue, TLS and the payload codec. */
export function clientConfigFromEnv(): ClientConfig {
  return loadClientConfig(effectiveEnv(), effectiveDefaults());
}

/** A connection failure names where it tried (the gRPC message alone says only "deadline"). */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

export async function withClient<T>(fn: (c: Client, taskQueue: string) => Promise<T>): Promise<T> {
  const config = clientConfigFromEnv();
  // loaded here, not at the top: `rekey --help` and refused arguments never pay for the gRPC client
  const { createClient } = await import('../workers/client.js');
  const { dataConverter } = await import('../workers/codec.js');
  // a missing codec key is a configuration problem, said as such before any connection is tried
  const converter = dataConverter(config.codec);
  const { address, namespace } = config.temporal;
  const { client, connection } = await createClient(config, converter).catch((err: unknown) => {
    throw new ConnectionError(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ${(err as Error).message}. Set --address/--namespace or REKEY_TEMPORAL_ADDRESS (TEMPORAL_ADDRESS).`,
    );
  });
  try {
    return await fn(client, config.temporal.taskQueue);
  } finally {
    await connection.close();
  }
}
