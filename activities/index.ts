import { createAuditActivities } from './audit.js';
import { createCredentialActivities } from './credentials.js';
import { createHostActivities } from './host.js';
import { createKafkaActivities } from './kafka.js';
import { createKafkaConnectActivities, type ConnectWorkerRuntime } from './kafkaConnect.js';
import type { ConnectPodsMemory } from './kubernetes.js';
import { createPlanActivities } from './plans.js';
import { createPostgresActivities } from './postgres/index.js';
import type { SecretStore } from './secrets/store.js';

export interface ActivityDeps {
  store: SecretStore;
  postgres: { host: string; port: number; database: string; adminSecret: string };
  kafkaConnect: { url: string; worker?: ConnectWorkerRuntime };
  kafka: { brokers: string[] };
  audit: { path: string };
  /** Workers started for tests (REKEY_TEST_HOOKS) accept rollback drills (`injectFailure`). */
  testHooks?: boolean;
  /** When set (Kubernetes backends), the Kafka Connect pods' memory health feeds the pre-flight memory check. */
  connectPodsMemory?: () => Promise<ConnectPodsMemory>;
}

/** The object the worker registers: every activity, built from injected clients and settings. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createPostgresActivities({ store: deps.store, ...deps.postgres }),
    ...createKafkaConnectActivities(deps.kafkaConnect),
    ...createKafkaActivities(deps.kafka),
    ...createCredentialActivities({ store: deps.store }),
    ...createHostActivities({ connectPodsMemory: deps.connectPodsMemory }),
    ...createAuditActivities(deps.audit),
    ...createPlanActivities({ testHooks: deps.testHooks ?? false }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
