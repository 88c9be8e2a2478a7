import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { parseUserInfo } from '../../activities/registryUserInfo.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { connectorStore } from './connect.js';
import { adminKubeConfig, kubeNamespace } from './kube.js';
import { pipeline, type StackConfig } from './config.js';
import { StackError, stopPid } from './proc.js';
import type { Service } from './service.js';
import { type ReplicaSpec, startReplicas, stopReplicas } from './registryReplicas.js';
import { prepareHttpsTls } from './httpsTls.js';

/** Apicurio 3 is compiled for Java 21: use REKEY_JAVA21_HOME, else the newest JDK >= 21 under /usr/lib/jvm. */
function javaForRegistry(): string {
  const explicit = process.env.REKEY_JAVA21_HOME;
  if (explicit) return path.join(explicit, 'bin', 'java');
  const jvmRoot = '/usr/lib/jvm';
  const candidates = fs.existsSync(jvmRoot)
    ? fs
        .readdirSync(jvmRoot)
        .map((d) => ({ d, v: Number(/(?:^|-)(\d{2})(?:[.-]|$)/.exec(d)?.[1] ?? 0) }))
        .filter(({ d, v }) => v >= 21 && fs.existsSync(path.join(jvmRoot, d, 'bin', 'java')))
        .sort((a, b) => b.v - a.v)
    : [];
  if (candidates.length === 0) {
    throw new StackError(
      'schema-registry',
      'Apicurio Registry 3 needs Java 21 or newer: install a JDK >= 21 under /usr/lib/jvm or set REKEY_JAVA21_HOME',
    );
  }
  return path.join(jvmRoot, candidates[0]!.d, 'bin', 'java');
}

export const registryUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7`;
export const registryUsers = ['admin', 'developer', 'probe'] as const;
const roles: Record<(typeof registryUsers)[number], string> = {
  admin: 'sr-admin',
  developer: 'sr-developer',
  probe: 'sr-readonly',
};

/**
 * The embedded users file. A secret in the runbook's layout (`user-info`, the Jetty users file a
 * Confluent registry reads: `user: password[,role…]`) is converted as the registry starts: Jetty
 * roles admin/developer/readonly become sr-admin/sr-developer/sr-readonly, other roles none. Else
 * each account's current, next and previous (user, password) with the account's role.
 */
export function registryUserProperties(data: Record<string, string>): string[] {
  const lines: string[] = [];
  const add = (user: string, password: string, role: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(user)) return;
    lines.push(`quarkus.security.users.embedded.users.${user}=${password}`);
    if (role) lines.push(`quarkus.security.users.embedded.roles.${user}=${role}`);
  };
  const userInfo = data['user-info'];
  if (userInfo !== undefined) {
    const apicurio: Record<string, string> = { admin: 'sr-admin', developer: 'sr-developer', readonly: 'sr-readonly' };
    for (const { entry } of parseUserInfo(userInfo)) {
      // a password Quarkus' properties would read otherwise (escapes, ${…}) or Jetty's encoded ones: the stand-in cannot serve that user
      if (!entry || !/^[\x21-\x7e]+$/.test(entry.password) || /[\\$]|^(OBF|MD5|CRYPT):/.test(entry.password)) continue;
      add(entry.user, entry.password, [...new Set(entry.roles.flatMap((r) => apicurio[r] ?? []))].join(','));
    }
    return lines;
  }
  for (const account of registryUsers) {
    for (const slot of ['', '-next', '-previous']) {
      const user = data[`${account}${slot}-user`];
      const password = data[`${account}${slot}-password`];
      if (user && password) add(user, password, roles[account]);
    }
  }
  return lines;
}

/**
 * The registry's users as the pipeline holds them now: the Kubernetes Secret once the pipeline
 * moved there (`usePipelineStore`), as a registry in the cluster mounts it; the file store
 * otherwise, and while the embedded API server is not up yet (the registry starts before it).
 */
export async function registrySecret(cfg: StackConfig) {
  if (connectorStore(cfg) !== 'file') {
    const live = await new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace)
      .read(pipeline.registrySecret)
      .catch(() => undefined);
    if (live) return live;
  }
  return new FileSecretStore(cfg.secretsDir).read(pipeline.registrySecret);
}

/** Whether the registry on `port` answers an authenticated request (the read-only `probe` account). */
async function answers(cfg: StackConfig, port: number): Promise<boolean> {
  const secret = await registrySecret(cfg);
  if (!secret) return false;
  const auth = Buffer.from(`${secret.data['probe-user']}:${secret.data['probe-password']}`).toString('base64');
  const res = await fetch(`http://127.0.0.1:${port}/apis/ccompat/v7/subjects`, {
    headers: { authorization: `Basic ${auth}` },
    signal: AbortSignal.timeout(3000),
  });
  return res.ok;
}

/**
 * What a replica starts with: the users in the secret (every account's current user, plus the
 * `-next`/`-previous` users a rotation has the registry accept beside it), written to a 0600
 * properties file the JVM reads at start, and the HTTPS certificate from secret registry-tls.
 */
export async function replicaSpec(cfg: StackConfig): Promise<ReplicaSpec> {
  const secret = await registrySecret(cfg);
  if (!secret)
    throw new StackError('schema-registry', `secret ${pipeline.registrySecret} missing; run npm run stack:up`);
  const dir = path.join(cfg.dataDir, 'registry');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const usersFile = path.join(dir, 'users.properties');
  fs.writeFileSync(usersFile, registryUserProperties(secret.data).join('\n') + '\n', { mode: 0o600 });
  fs.chmodSync(usersFile, 0o600);
  const tls = await prepareHttpsTls(cfg, 'schema-registry');
  return {
    java: javaForRegistry(),
    app: path.join(cfg.cache, `apicurio-registry-${cfg.versions.apicurio}`),
    usersFile,
    tls,
    healthy: (port) => answers(cfg, port),
  };
}

/** Apicurio Registry with its Confluent-compatible API behind HTTP basic auth (Quarkus embedded users): two replicas behind one address. */
export const registry: Service = {
  name: 'schema-registry',
  url: (cfg) => registryUrl(cfg),
  ports: (cfg) => [cfg.ports.registry, cfg.ports.registryManagement, cfg.ports.registryHttps],

  async install() {
    // resolved by install-jvm.sh
  },

  async start(cfg) {
    const store = new FileSecretStore(cfg.secretsDir);
    let secret = await store.read(pipeline.registrySecret);
    if (!secret) {
      // the runbook's layout: the keys the clients read, and `user-info`, the Jetty users file a Confluent
      // registry reads (rekey keeps it in step; this stand-in converts it at start). A secret that
      // exists without it (an older stack) is left as it is: the keys alone keep working.
      const data: Record<string, string> = {};
      const jettyRoles: Record<(typeof registryUsers)[number], string> = {
        admin: 'admin',
        developer: 'developer',
        probe: 'readonly',
      };
      const userInfo: string[] = [];
      for (const user of registryUsers) {
        data[`${user}-user`] = user;
        data[`${user}-password`] = randomBytes(18).toString('base64url');
        userInfo.push(`${user}: ${data[`${user}-password`]},${jettyRoles[user]}`);
      }
      data['user-info'] = `${userInfo.join('\n')}\n`;
      await store.write(pipeline.registrySecret, data);
      secret = (await store.read(pipeline.registrySecret))!;
    }
    await startReplicas(cfg, await replicaSpec(cfg));
  },

  /** The pipeline's compatibility rule: BACKWARD globally (what the rotation's pre-flight requires of the CDC subjects). */
  async seed(cfg) {
    const secret = (await registrySecret(cfg))!;
    const auth = Buffer.from(`${secret.data['admin-user']}:${secret.data['admin-password']}`).toString('base64');
    const res = await fetch(`${registryUrl(cfg)}/config`, {
      method: 'PUT',
      headers: { authorization: `Basic ${auth}`, 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    if (!res.ok)
      throw new Error(
        `setting global compatibility BACKWARD answered HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`,
      );
  },

  async healthy(cfg) {
    return answers(cfg, cfg.ports.registry);
  },

  async stop(cfg) {
    await stopReplicas(cfg);
    await stopPid(cfg.runDir, 'schema-registry'); // a stack started before the replicas
  },
};
