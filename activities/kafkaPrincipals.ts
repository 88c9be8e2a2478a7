import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import kafkajs, { Kafka, type Acl, type AclFilter } from 'kafkajs';
import { credentialKeys } from './credentials.js';
import { kafkaClientConfig, type KafkaDeps, type KafkaSaslMechanism } from './kafkaClient.js';
import { deleteScramUser, describeScramUsers, upsertScramUser } from './kafkaScram.js';
import type { SecretStore } from './secrets/store.js';

// CommonJS: kafkajs's enums are properties of its default export
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const KEYS = credentialKeys.sasl;
const MAX_WAIT_MS = 600_000;

/** A principal as the workflow may see it: names and counts, never a password. */
export interface KafkaPrincipal {
  secret: string;
  user: string;
  /** The broker holds a SCRAM credential of this mechanism for the user. */
  scram: boolean;
  /** The user's ACL bindings, as `ALLOW READ TOPIC ecommerce.* (PREFIXED)`. */
  acls: string[];
}

const bindingText = (a: { resourceType: number; resourceName: string; resourcePatternType: number } & Acl) =>
  `${AclPermissionTypes[a.permissionType] ?? a.permissionType} ${AclOperationTypes[a.operation] ?? a.operation} ${
    AclResourceTypes[a.resourceType] ?? a.resourceType
  } ${a.resourceName}${a.resourcePatternType === ResourcePatternTypes.PREFIXED ? '*' : ''}`;

/**
 * A Kafka SCRAM principal's rotation (KAFKA_SASL_PASSWORD): its credential on the broker
 * (AlterUserScramCredentials), its ACLs (copied from the principal it replaces), and a login
 * with the password a secret holds. rekey's own principal needs ALTER on the cluster for both.
 */
export function createKafkaPrincipalActivities(deps: { store: SecretStore; kafka: KafkaDeps }) {
  const { store } = deps;
  const admin = kafkaClientConfig(deps.kafka, store, 'rekey-worker');

  async function withAdmin<T>(fn: (a: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
    const a = new Kafka(await admin()).admin();
    await a.connect();
    try {
      return await fn(a);
    } finally {
      await a.disconnect().catch(() => undefined);
    }
  }

  async function aclsOf(user: string) {
    const filter: AclFilter = {
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      principal: `User:${user}`,
      host: '*',
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    };
    const { resources } = await withAdmin((a) => a.describeAcls(filter));
    return resources.flatMap((r) =>
      r.acls.map((acl) => ({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        resourcePatternType: r.resourcePatternType,
        ...acl,
      })),
    );
  }

  async function userIn(secret: string): Promise<{ user: string; password: string }> {
    const s = await store.read(secret);
    const user = s?.data[KEYS.user];
    const password = s?.data[KEYS.password];
    if (!user || !password)
      throw ApplicationFailure.nonRetryable(
        `secret ${secret} ${s ? `lacks ${KEYS.user} or ${KEYS.password}` : `not found in the ${store.kind} store`}`,
        'SecretMissing',
      );
    return { user, password };
  }

  /** Read only: the user a secret names, whether the broker knows its SCRAM credential, and its ACLs. */
  async function describeKafkaPrincipal(input: {
    secret: string;
    mechanism: KafkaSaslMechanism;
  }): Promise<KafkaPrincipal> {
    const { user } = await userIn(input.secret);
    const [scram, acls] = await Promise.all([describeScramUsers(await admin(), [user]), aclsOf(user)]);
    const has = scram.some((u) => u.user === user && u.mechanisms.some((m) => m.mechanism === input.mechanism));
    return { secret: input.secret, user, scram: has, acls: acls.map(bindingText).sort() };
  }

  /**
   * Gives `newUser` (named in secret `from`, with its password) a SCRAM credential and the
   * ACLs `likeUser` has. Repeatable: the credential is set again (a new salt) and ACLs that
   * exist are created again (a no-op on the broker).
   */
  async function createKafkaPrincipal(input: {
    from: string;
    likeUser: string;
    mechanism: KafkaSaslMechanism;
  }): Promise<{ user: string; acls: number }> {
    const { user, password } = await userIn(input.from);
    if (user === input.likeUser)
      throw ApplicationFailure.nonRetryable(`the new principal is the old one (${user})`, 'SamePrincipal');
    const acls = await aclsOf(input.likeUser);
    if (acls.length === 0)
      throw ApplicationFailure.nonRetryable(
        `User:${input.likeUser} has no ACLs to copy: the new principal could do nothing`,
        'NoAclsToCopy',
      );
    await upsertScramUser(await admin(), user, password, input.mechanism);
    await withAdmin((a) =>
      a.createAcls({
        acl: acls.map((x) => ({
          resourceType: x.resourceType,
          resourceName: x.resourceName,
          resourcePatternType: x.resourcePatternType,
          principal: `User:${user}`,
          host: x.host,
          operation: x.operation,
          permissionType: x.permissionType,
        })),
      }),
    );
    return { user, acls: acls.length };
  }

  /** Removes a principal's ACLs and its SCRAM credential; one already gone is done. */
  async function deleteKafkaPrincipal(input: {
    user: string;
    mechanism: KafkaSaslMechanism;
  }): Promise<{ user: string; acls: number }> {
    const removed = await withAdmin((a) =>
      a.deleteAcls({
        filters: [
          {
            resourceType: AclResourceTypes.ANY,
            resourcePatternType: ResourcePatternTypes.ANY,
            principal: `User:${input.user}`,
            host: '*',
            operation: AclOperationTypes.ANY,
            permissionType: AclPermissionTypes.ANY,
          },
        ],
      }),
    );
    await deleteScramUser(await admin(), input.user, input.mechanism);
    const count = removed.filterResponses.reduce((n, r) => n + r.matchingAcls.length, 0);
    return { user: input.user, acls: count };
  }

  /** One SASL login with the credential a secret holds: accepted, or refused by the broker (never a password in the answer). */
  async function loginOnce(
    secret: string,
    mechanism: KafkaSaslMechanism,
  ): Promise<{ user: string; accepted: boolean; detail: string }> {
    const { user } = await userIn(secret);
    const config = await kafkaClientConfig(
      { ...deps.kafka, sasl: { secret, mechanism } },
      store,
      'rekey-login-probe',
    )();
    const client = new Kafka({ ...config, retry: { retries: 0 }, connectionTimeout: 5000 }).admin();
    try {
      await client.connect();
      await client.describeCluster();
      return { user, accepted: true, detail: 'authenticated' };
    } catch (err) {
      const e = err as Error & { type?: string };
      const refused = e.name === 'KafkaJSSASLAuthenticationError' || /authentication failed/i.test(e.message);
      if (!refused)
        throw ApplicationFailure.retryable(
          `Kafka login as ${user} could not be tried: ${e.message}`,
          'KafkaUnavailable',
        );
      return { user, accepted: false, detail: 'authentication failed' };
    } finally {
      await client.disconnect().catch(() => undefined);
    }
  }

  /**
   * Waits until a login with the credential in `secret` is `expect`ed (accepted or refused),
   * heartbeating: a SCRAM change reaches every broker through the metadata log, a moment later.
   */
  async function waitKafkaLogin(input: {
    secret: string;
    mechanism: KafkaSaslMechanism;
    expect: 'accepted' | 'refused';
    timeoutMs: number;
  }): Promise<{ user: string; accepted: boolean; waitedMs: number }> {
    const started = Date.now();
    const deadline = started + Math.min(input.timeoutMs, MAX_WAIT_MS);
    for (;;) {
      const r = await loginOnce(input.secret, input.mechanism);
      if (r.accepted === (input.expect === 'accepted'))
        return { user: r.user, accepted: r.accepted, waitedMs: Date.now() - started };
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `a login as ${r.user} (secret ${input.secret}) was ${r.accepted ? 'accepted' : 'refused'} for ${Math.round((Date.now() - started) / 1000)} s; expected ${input.expect}`,
          'KafkaLoginUnexpected',
        );
      heartbeat(`login as ${r.user}: ${r.detail}, waiting for ${input.expect}`);
      await sleep(1000);
    }
  }

  return { describeKafkaPrincipal, createKafkaPrincipal, deleteKafkaPrincipal, waitKafkaLogin };
}
