import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { pipeline, type StackConfig } from './config.js';
import { spawnDetached, StackError, stopPid, waitFor } from './proc.js';
import { logPath, type Service } from './service.js';
import { prepareHttpsTls } from './httpsTls.js';
import { fastJvmStart } from './jvmStart.js';

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
    throw new StackError('schema-registry', 'Apicurio Registry 3 needs Java 21 or newer: install a JDK >= 21 under /usr/lib/jvm or set REKEY_JAVA21_HOME');
  }
  return path.join(jvmRoot, candidates[0]!.d, 'bin', 'java');
}

export const registryUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7`;
export const registryUsers = ['admin', 'developer', 'probe'] as const;
const roles: Record<(typeof registryUsers)[number], string> = { admin: 'sr-admin', developer: 'sr-developer', probe: 'sr-readonly' };

/** The embedded users file: each account's current, next and previous (user, password) with the account's role. */
export function registryUserProperties(data: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const account of registryUsers) {
    for (const slot of ['', '-next', '-previous']) {
      const user = data[`${account}${slot}-user`];
      const password = data[`${account}${slot}-password`];
      if (!user || !password || !/^[A-Za-z0-9_-]+$/.test(user)) continue;
      lines.push(`quarkus.security.users.embedded.users.${user}=${password}`, `quarkus.security.users.embedded.roles.${user}=${roles[account]}`);
    }
  }
  return lines;
}

/** Apicurio Registry with its Confluent-compatible API behind HTTP basic auth (Quarkus embedded users). */
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
      const data: Record<string, string> = {};
      for (const user of registryUsers) {
        data[`${user}-user`] = user;
        data[`${user}-password`] = randomBytes(18).toString('base64url');
      }
      await store.write(pipeline.registrySecret, data);
      secret = (await store.read(pipeline.registrySecret))!;
    }
    // Users reach the JVM through a 0600 properties file, never its command line (which `ps`
    // shows). Every account's current user, plus the `-next`/`-previous` users a rotation has
    // the registry accept beside it (Apicurio reads its users only at start).
    const dir = path.join(cfg.dataDir, 'registry');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const usersFile = path.join(dir, 'users.properties');
    fs.writeFileSync(usersFile, registryUserProperties(secret.data).join('\n') + '\n', { mode: 0o600 });
    fs.chmodSync(usersFile, 0o600);
    // the HTTPS port's certificate, from secret registry-tls (Quarkus reads it at start: a new one takes a restart)
    const tls = await prepareHttpsTls(cfg, 'schema-registry');
    const env: NodeJS.ProcessEnv = {
      QUARKUS_HTTP_HOST: '127.0.0.1',
      QUARKUS_HTTP_PORT: String(cfg.ports.registry),
      QUARKUS_HTTP_SSL_PORT: String(cfg.ports.registryHttps),
      QUARKUS_HTTP_SSL_CERTIFICATE_FILES: tls.cert,
      QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES: tls.key,
      // HTTP stays beside HTTPS (the connector's converter and the other clients use it)
      QUARKUS_HTTP_INSECURE_REQUESTS: 'enabled',
      // health/metrics interface: loopback and a port of our own (its default is 0.0.0.0:9000)
      QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
      QUARKUS_MANAGEMENT_PORT: String(cfg.ports.registryManagement),
      QUARKUS_OIDC_TENANT_ENABLED: 'false',
      QUARKUS_HTTP_AUTH_BASIC: 'true',
      QUARKUS_SECURITY_USERS_EMBEDDED_ENABLED: 'true',
      QUARKUS_SECURITY_USERS_EMBEDDED_PLAIN_TEXT: 'true',
      QUARKUS_HTTP_AUTH_PERMISSION_APIS_PATHS: '/apis/*',
      QUARKUS_HTTP_AUTH_PERMISSION_APIS_POLICY: 'authenticated',
      QUARKUS_CONFIG_LOCATIONS: usersFile,
      // every 401 and 200 in the log: the rotation test counts refusals from the registry's side
      QUARKUS_HTTP_ACCESS_LOG_ENABLED: 'true',
      QUARKUS_HTTP_ACCESS_LOG_PATTERN: 'access "%r" %s %u',
      // schemas survive a restart (the default is an in-memory H2): a rotation restarts the registry
      APICURIO_DATASOURCE_URL: `jdbc:h2:file:${path.join(dir, 'registry')}`,
      APICURIO_DATASOURCE_JDBC_INITIAL_SIZE: '2',
      APICURIO_DATASOURCE_JDBC_MIN_SIZE: '2',
      APICURIO_DATASOURCE_JDBC_MAX_SIZE: '10',
      QUARKUS_LOG_LEVEL: 'WARN',
    };
    const app = path.join(cfg.cache, `apicurio-registry-${cfg.versions.apicurio}`);
    const log = logPath(cfg, 'schema-registry');
    fs.mkdirSync(cfg.dataDir, { recursive: true });
    const java = javaForRegistry();
    const pid = spawnDetached({
      name: 'schema-registry',
      command: java,
      args: ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', ...fastJvmStart(cfg, `apicurio-registry-${cfg.versions.apicurio}`, java), '-jar', path.join(app, 'quarkus-run.jar')],
      cwd: cfg.dataDir,
      env,
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('schema-registry', () => registry.healthy(cfg), { timeoutMs: 120_000, logPath: log, pid });
  },

  /** The pipeline's compatibility rule: BACKWARD globally (what the rotation's pre-flight requires of the CDC subjects). */
  async seed(cfg) {
    const secret = (await new FileSecretStore(cfg.secretsDir).read(pipeline.registrySecret))!;
    const auth = Buffer.from(`${secret.data['admin-user']}:${secret.data['admin-password']}`).toString('base64');
    const res = await fetch(`${registryUrl(cfg)}/config`, {
      method: 'PUT',
      headers: { authorization: `Basic ${auth}`, 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    if (!res.ok) throw new Error(`setting global compatibility BACKWARD answered HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  },

  async healthy(cfg) {
    const secret = await new FileSecretStore(cfg.secretsDir).read(pipeline.registrySecret);
    if (!secret) return false;
    const auth = Buffer.from(`${secret.data['probe-user']}:${secret.data['probe-password']}`).toString('base64');
    const res = await fetch(`${registryUrl(cfg)}/subjects`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(3000) });
    return res.ok;
  },

  async stop(cfg) {
    await stopPid(cfg.runDir, 'schema-registry');
  },
};
