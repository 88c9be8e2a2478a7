import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { acceptedUsers } from '../../activities/connectRestUsersFile.js';
import { pipelineSecrets } from './connectorStore.js';
import { loadStackConfig, pipeline, type StackConfig } from './config.js';

/** What a client sends: the `username`/`password` keys of secret kafka-connect-rest (the platform plan's KAFKA_CONNECT_PASSWORD). */
const FIRST_USER = 'connect-admin';
/** The users Connect accepts, as Kafka's PropertyFileLoginModule reads them (a java.util.Properties file). */
export const USERS_KEY = 'users.properties';

const authDir = (cfg: StackConfig) => path.join(cfg.dataDir, 'connect', 'rest-auth');
export const connectRestUsersFile = (cfg: StackConfig) => path.join(authDir(cfg), USERS_KEY);
export const connectRestJaasFile = (cfg: StackConfig) => path.join(authDir(cfg), 'jaas.conf');

/** Where the credential lives now (the file store, or the cluster's Secret a rollout's new pod would mount). */
const store = (cfg: StackConfig) => pipelineSecrets(cfg);

/**
 * Makes the REST credential once (a random base64url password: nothing a properties file would
 * need escaped), then writes what the worker reads at start: the accepted users from the
 * secret's `users.properties` (what a Secret volume would mount) and the JAAS file naming it.
 * Kafka's PropertyFileLoginModule caches the file per JVM (its static CREDENTIAL_PROPERTIES
 * map, connect-basic-auth-extension 4.3.1): a changed file takes a worker restart. An empty
 * file would let every request in, so one is never written.
 */
export async function writeConnectRestAuthFiles(cfg: StackConfig): Promise<void> {
  let secret = await store(cfg).read(pipeline.connectRestSecret);
  if (!secret) {
    const password = randomBytes(24).toString('base64url');
    await store(cfg).write(
      pipeline.connectRestSecret,
      { username: FIRST_USER, password, [USERS_KEY]: `${FIRST_USER}=${password}\n` },
      { expectedVersion: null },
    );
    secret = (await store(cfg).read(pipeline.connectRestSecret))!;
  }
  const users = secret.data[USERS_KEY] ?? '';
  if (acceptedUsers(users).length === 0)
    throw new Error(`secret ${pipeline.connectRestSecret} has no user in ${USERS_KEY}: Connect would accept anyone`);
  fs.mkdirSync(authDir(cfg), { recursive: true, mode: 0o700 });
  fs.writeFileSync(connectRestUsersFile(cfg), users, { mode: 0o600 });
  fs.writeFileSync(
    connectRestJaasFile(cfg),
    [
      'KafkaConnect {',
      `  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required file="${connectRestUsersFile(cfg)}";`,
      '};',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

/** The Authorization header of the REST credential clients use now (read per call: a rotation changes it). */
export async function connectAuthHeader(cfg: StackConfig): Promise<string> {
  const data = (await store(cfg).read(pipeline.connectRestSecret))?.data ?? {};
  return `Basic ${Buffer.from(`${data.username ?? ''}:${data.password ?? ''}`).toString('base64')}`;
}

/** `fetch` to Kafka Connect's REST API with the current credential: the stack's tooling and the tests' own checks. */
export async function connectFetch(
  url: string,
  init: RequestInit = {},
  cfg: StackConfig = loadStackConfig(),
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', await connectAuthHeader(cfg));
  return fetch(url, { ...init, headers });
}
