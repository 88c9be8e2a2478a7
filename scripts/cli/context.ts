import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Client } from '@temporalio/client';
import { loadStackConfig } from '../stack/config.js';
import { createClient } from '../../workers/client.js';
import { loadWorkerConfig } from '../../workers/config.js';
import { stackWorkerDefaults } from '../lib/session.js';
import { parseIsoDuration } from '../../workflows/rotation/index.js';

/** Shared by every `rekey` command module (scripts/cli/*.ts): who runs it, the client, argument parsers. */
export const operator = process.env.USER ?? 'operator';

export function duration(v: string) {
  if (parseIsoDuration(v) === undefined) throw new InvalidArgumentError('must be an ISO-8601 duration such as PT24H');
  return v;
}

export function seconds(v: string) {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number of seconds');
  return n;
}

/** REKEY_* settings; unset ones default to the embedded stack (its generated codec key included). */
export function configFromEnv() {
  const env = { ...process.env };
  const stack = loadStackConfig();
  const stackKey = path.join(stack.dir, 'codec.key');
  if (!env.REKEY_CODEC_KEY && !env.REKEY_CODEC_KEY_FILE && fs.existsSync(stackKey)) env.REKEY_CODEC_KEY_FILE = stackKey;
  return loadWorkerConfig(env, stackWorkerDefaults(stack));
}

export async function withClient<T>(fn: (c: Client, taskQueue: string) => Promise<T>): Promise<T> {
  const config = configFromEnv();
  const { client, connection } = await createClient(config);
  try {
    return await fn(client, config.temporal.taskQueue);
  } finally {
    await connection.close();
  }
}
