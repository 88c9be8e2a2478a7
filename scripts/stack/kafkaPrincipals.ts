import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import kafkajs, { Kafka, logLevel, type AclEntry } from 'kafkajs';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { upsertScramUser } from '../../activities/kafkaScram.js';
import { pipeline, type StackConfig } from './config.js';

/** The SASL_SSL listener: SCRAM-SHA-512 over TLS, the broker's `kafka-tls` certificate. */
export const kafkaSaslBootstrap = (cfg: StackConfig) => `127.0.0.1:${cfg.ports.kafkaSasl}`;
export const KAFKA_SASL_LISTENER = 'SASL_SSL';

/** The CA that issued the broker's certificate, as a PEM file SASL_SSL clients trust (written at broker start). */
export const kafkaCaFile = (cfg: StackConfig) => path.join(cfg.dataDir, 'kafka-sasl', 'ca.pem');

// CommonJS: kafkajs's enums are properties of its default export
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

type Grant = [keyof typeof AclResourceTypes, string, 'PREFIXED' | 'LITERAL', Array<keyof typeof AclOperationTypes>];

/**
 * What each principal may do, and nothing more. The Connect worker: its own topics and group,
 * the connectors' topics (Debezium's `ecommerce.*` and the fleet's `fleet-*`, the heartbeats)
 * and the sink's consumer groups (`connect-<connector>`). rekey: read the change topics (the
 * canary), its own probe groups, see the registry's storage topic (the access validation), and
 * the cluster operations of its procedures (SCRAM credentials and ACLs: ALTER; the TLS keystore
 * reload: ALTER_CONFIGS).
 */
export const principalGrants: Record<'connect' | 'rekey', Grant[]> = {
  connect: [
    ['TOPIC', 'rekey-connect-', 'PREFIXED', ['ALL']],
    ['TOPIC', 'ecommerce.', 'PREFIXED', ['ALL']],
    ['TOPIC', 'fleet-', 'PREFIXED', ['ALL']],
    ['TOPIC', '__debezium-heartbeat', 'PREFIXED', ['ALL']],
    ['GROUP', 'rekey-connect', 'PREFIXED', ['ALL']],
    ['GROUP', 'connect-', 'PREFIXED', ['ALL']],
    ['CLUSTER', 'kafka-cluster', 'LITERAL', ['DESCRIBE', 'DESCRIBE_CONFIGS', 'IDEMPOTENT_WRITE']],
  ],
  rekey: [
    ['TOPIC', 'ecommerce.', 'PREFIXED', ['READ', 'DESCRIBE']],
    ['TOPIC', 'fleet-', 'PREFIXED', ['READ', 'DESCRIBE']],
    ['GROUP', 'rekey-', 'PREFIXED', ['ALL']],
    // the access validation sees the registry's storage topic (Apicurio's kafkasql journal, Confluent's _schemas)
    ['TOPIC', 'kafkasql-journal', 'LITERAL', ['DESCRIBE']],
    ['TOPIC', '_schemas', 'LITERAL', ['DESCRIBE']],
    ['CLUSTER', 'kafka-cluster', 'LITERAL', ['DESCRIBE', 'DESCRIBE_CONFIGS', 'ALTER', 'ALTER_CONFIGS']],
  ],
};

export const aclEntries = (principal: string, grants: Grant[]): AclEntry[] =>
  grants.flatMap(([type, name, pattern, ops]) =>
    ops.map((op) => ({
      resourceType: AclResourceTypes[type],
      resourceName: name,
      resourcePatternType: ResourcePatternTypes[pattern],
      principal: `User:${principal}`,
      host: '*',
      operation: AclOperationTypes[op],
      permissionType: AclPermissionTypes.ALLOW,
    })),
  );

/** The stack's principals: secret, first user name, grants. */
const principals = [
  { secret: pipeline.connectSaslSecret, firstUser: 'kafka-connect', grants: principalGrants.connect },
  { secret: pipeline.rekeySaslSecret, firstUser: 'rekey', grants: principalGrants.rekey },
] as const;

/**
 * Makes each principal's secret once (a random password), then sets its SCRAM credential and
 * ACLs for whichever user the secret holds now (after a rotation: the rotated one), through the
 * loopback listener where the stack's tooling is the super user. Idempotent: `stack:up` on a
 * running stack changes no password.
 */
export async function ensureKafkaPrincipals(cfg: StackConfig, adminBrokers: string[]): Promise<void> {
  const store = new FileSecretStore(cfg.secretsDir);
  const admin = new Kafka({ clientId: 'rekey-stack', brokers: adminBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (const p of principals) {
      let secret = await store.read(p.secret);
      if (!secret) {
        await store.write(
          p.secret,
          { username: p.firstUser, password: randomBytes(24).toString('base64url') },
          { expectedVersion: null },
        );
        secret = (await store.read(p.secret))!;
      }
      const { username, password } = secret.data as { username: string; password: string };
      await upsertScramUser({ brokers: adminBrokers, clientId: 'rekey-stack' }, username, password);
      await admin.createAcls({ acl: aclEntries(username, [...p.grants]) });
    }
  } finally {
    await admin.disconnect();
  }
}

/** Writes the PEM CA bundle SASL_SSL clients (Connect, the worker) trust. */
export function writeKafkaCaFile(cfg: StackConfig, caPem: string): void {
  const file = kafkaCaFile(cfg);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, caPem);
  fs.renameSync(`${file}.tmp`, file);
}
