import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StackConfig } from './config.js';
import { kafkaBootstrap } from './kafka.js';
import { isAlive, readPid, spawnDetached, stopPid, waitFor } from './proc.js';
import { logPath } from './service.js';
import { fastJvmStart } from './jvmStart.js';
import { readBalancerControl, writeBalancerControl } from './registryBalancer.js';

/**
 * The registry as production runs it: two replicas behind one address, sharing their storage
 * through Kafka (Apicurio's `kafkasql`: a journal topic each replica replays, as Confluent's
 * registry keeps its schemas in `_schemas`), rolled without a gap. Not PostgreSQL: the
 * pipeline's database restarts in the fault matrix would then take the registry down with it,
 * a coupling production does not have. Apicurio
 * reads its users only at start, so each rotation restarts it; with one replica every restart
 * left the clients without a registry for seconds (≈ 27 s over a rotation). A restart here is a
 * Deployment's surge rollout (maxSurge 100 %, maxUnavailable 0): two new replicas start on
 * the other pair of port slots, take the traffic once they answer, then the old pair is
 * drained and stopped; clients never notice (`npm run bench:registry`).
 */
export const REGISTRY_REPLICAS = 2;
/** Two generations of port slots: the live pair and the pair a rollout starts. */
const SLOTS = 2 * REGISTRY_REPLICAS;
const BALANCER = 'schema-registry-balancer';
const replicaName = (slot: number) => `schema-registry-${slot}`;
/** Each slot's own ports; the registry's configured ports belong to the balancer. */
export const replicaPorts = (cfg: StackConfig, slot: number) => ({
  http: cfg.ports.registry + 10 + slot,
  https: cfg.ports.registryHttps + 10 + slot,
  management: cfg.ports.registryManagement + 20 + slot,
});
const controlFile = (cfg: StackConfig) => path.join(cfg.runDir, 'registry-balancer.json');
const slots = Array.from({ length: SLOTS }, (_, i) => i);
const firstPair = slots.slice(0, REGISTRY_REPLICAS);

export interface ReplicaSpec {
  java: string;
  app: string;
  usersFile: string;
  tls: { cert: string; key: string };
  /** Returns true once the replica on this HTTP port answers an authenticated request. */
  healthy: (httpPort: number) => Promise<boolean>;
}

function replicaEnv(cfg: StackConfig, i: number, spec: ReplicaSpec): NodeJS.ProcessEnv {
  const ports = replicaPorts(cfg, i);
  return {
    QUARKUS_HTTP_HOST: '127.0.0.1',
    QUARKUS_HTTP_PORT: String(ports.http),
    QUARKUS_HTTP_SSL_PORT: String(ports.https),
    QUARKUS_HTTP_SSL_CERTIFICATE_FILES: spec.tls.cert,
    QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES: spec.tls.key,
    // HTTP stays beside HTTPS (the connector's converter and the other clients use it)
    QUARKUS_HTTP_INSECURE_REQUESTS: 'enabled',
    // health/metrics interface: loopback and a port of our own (its default is 0.0.0.0:9000)
    QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
    QUARKUS_MANAGEMENT_PORT: String(ports.management),
    // in-flight requests finish when a replica is stopped
    QUARKUS_SHUTDOWN_TIMEOUT: '5s',
    QUARKUS_OIDC_TENANT_ENABLED: 'false',
    QUARKUS_HTTP_AUTH_BASIC: 'true',
    QUARKUS_SECURITY_USERS_EMBEDDED_ENABLED: 'true',
    QUARKUS_SECURITY_USERS_EMBEDDED_PLAIN_TEXT: 'true',
    QUARKUS_HTTP_AUTH_PERMISSION_APIS_PATHS: '/apis/*',
    QUARKUS_HTTP_AUTH_PERMISSION_APIS_POLICY: 'authenticated',
    // users reach the JVM through a 0600 properties file, never its command line (which `ps` shows)
    QUARKUS_CONFIG_LOCATIONS: spec.usersFile,
    // every 401 and 200 in the log: the rotation counts requests per user from the registry's side
    QUARKUS_HTTP_ACCESS_LOG_ENABLED: 'true',
    QUARKUS_HTTP_ACCESS_LOG_PATTERN: 'access "%r" %s %u',
    // one store for both replicas, surviving restarts: the journal topic in the stack's Kafka
    APICURIO_STORAGE_KIND: 'kafkasql',
    APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: kafkaBootstrap(cfg),
    // a replica is ready once it has read the journal back; 5 s polls made that 12 s
    APICURIO_KAFKASQL_CONSUMER_POLL_TIMEOUT: '250',
    QUARKUS_LOG_LEVEL: 'WARN',
  };
}

async function startReplica(cfg: StackConfig, i: number, spec: ReplicaSpec): Promise<void> {
  // both replicas append to one log: the access log the rotation reads holds every request
  const log = logPath(cfg, 'schema-registry');
  const pid = spawnDetached({
    name: replicaName(i),
    command: spec.java,
    args: [
      '-Xms128m',
      '-Xmx384m',
      '-XX:+UseSerialGC',
      ...fastJvmStart(cfg, `apicurio-registry-${cfg.versions.apicurio}`, spec.java),
      '-jar',
      path.join(spec.app, 'quarkus-run.jar'),
    ],
    cwd: cfg.dataDir,
    env: replicaEnv(cfg, i, spec),
    runDir: cfg.runDir,
    logPath: log,
  });
  await waitFor(replicaName(i), () => spec.healthy(replicaPorts(cfg, i).http), {
    timeoutMs: 120_000,
    logPath: log,
    pid,
  });
}

const running = (cfg: StackConfig, slot: number) => isAlive(readPid(cfg.runDir, replicaName(slot)));

/** The balancer in front of every slot, with the slots that serve now (kept from its control file when replicas of it still run). */
function startBalancer(cfg: StackConfig): number[] {
  const file = controlFile(cfg);
  const kept = fs.existsSync(file) ? readBalancerControl(file).live.filter((slot) => running(cfg, slot)) : [];
  const live = kept.length === REGISTRY_REPLICAS ? kept : firstPair;
  writeBalancerControl(file, {
    routes: [
      { listen: cfg.ports.registry, backends: slots.map((i) => replicaPorts(cfg, i).http) },
      { listen: cfg.ports.registryHttps, backends: slots.map((i) => replicaPorts(cfg, i).https) },
    ],
    live,
  });
  if (!isAlive(readPid(cfg.runDir, BALANCER))) {
    spawnDetached({
      name: BALANCER,
      command: process.execPath,
      args: ['--import', 'tsx', fileURLToPath(new URL('./registryBalancer.ts', import.meta.url)), file],
      cwd: cfg.dir,
      runDir: cfg.runDir,
      logPath: logPath(cfg, BALANCER),
    });
  }
  return live;
}

/** Both replicas and the balancer in front of them; replicas already running are left as they are. */
export async function startReplicas(cfg: StackConfig, spec: ReplicaSpec): Promise<void> {
  const live = startBalancer(cfg);
  const [first, ...rest] = live.filter((slot) => !running(cfg, slot));
  // one first: it creates the journal topics, which two replicas starting together would both try (TopicExistsException)
  if (first !== undefined) await startReplica(cfg, first, spec);
  await Promise.all(rest.map((slot) => startReplica(cfg, slot, spec)));
  await waitFor(BALANCER, () => spec.healthy(cfg.ports.registry), {
    timeoutMs: 30_000,
    logPath: logPath(cfg, BALANCER),
    pid: readPid(cfg.runDir, BALANCER),
  });
}

export async function stopReplicas(cfg: StackConfig): Promise<void> {
  await Promise.all(slots.map((slot) => stopPid(cfg.runDir, replicaName(slot))));
  await stopPid(cfg.runDir, BALANCER);
}

/**
 * A surge rollout: the new pair starts on the free slots with the users in the secret
 * (`spec.usersFile` already rewritten) while the old pair serves; once both answer they are
 * made live, the old pair's idle connections move to them, and after a moment for requests in
 * flight the old pair is stopped. A retry after a crash finds the new pair running and only
 * finishes the switch.
 */
export async function rollReplicas(
  cfg: StackConfig,
  spec: ReplicaSpec,
  onProgress: (detail: string) => void,
): Promise<void> {
  const file = controlFile(cfg);
  const old = readBalancerControl(file).live;
  const next = slots.filter((slot) => !old.includes(slot)).slice(0, REGISTRY_REPLICAS);
  onProgress(
    `starting ${REGISTRY_REPLICAS} new replicas with the users in the secret beside the ${old.length} serving`,
  );
  await Promise.all(
    next.map(async (slot) => {
      await stopPid(cfg.runDir, replicaName(slot)); // left over from an interrupted rollout: it may hold the old users
      await startReplica(cfg, slot, spec);
    }),
  );
  writeBalancerControl(file, { ...readBalancerControl(file), live: next });
  onProgress('new replicas serve; draining the old ones');
  await new Promise((r) => setTimeout(r, 500));
  // the rollout is done once the new pair serves; the old pair shuts down on its own (the next rollout waits for it before reusing its slots)
  void Promise.all(old.map((slot) => stopPid(cfg.runDir, replicaName(slot)))).catch(() => undefined);
}
