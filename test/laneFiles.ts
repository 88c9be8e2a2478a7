/** Which stack files run where and when: read by vitest.config.ts, the stack sequencer and the stack lane's setup file. */

/**
 * Stack-lane files that never change the pipeline (its connector, its workloads, secrets, slot
 * or IAM user, the secret store it uses) and ride out its restarts (a Connect restart only
 * delays the change events they count): `npm test` runs them in a second stack process beside
 * the pipeline files, once the stack is up (scripts/testLanes.ts). Not kubernetes.test: it
 * rollout-restarts Connect and the registry. Not stack.test: it expects every service healthy.
 */
export const stackSideFiles = [
  'test/integration/awsKeys.test.ts',
  'test/integration/codecServer.test.ts',
  'test/integration/connectMetrics.test.ts',
  'test/integration/postgresRoles.test.ts',
  'test/integration/registryFlavours.test.ts',
  'test/integration/health.test.ts',
  'test/integration/installGuide.test.ts',
  'test/integration/postgresCanary.test.ts',
  'test/integration/secretBytes.test.ts',
  'test/integration/secretReaders.test.ts',
  'test/integration/strimzi.test.ts',
  'test/e2e/emergencyIsolate.test.ts',
  // TLS: rekey's own connections, and the two certificates installed without a restart (PostgreSQL reloads, Kafka's listener reconfigures)
  'test/e2e/tlsClients.test.ts',
  'test/e2e/certificateRotation.test.ts',
  'test/e2e/kafkaCertificateRotation.test.ts',
];

/**
 * Stack-lane files that the side lane's files cannot ride out: they end the superuser's
 * sessions (the admin password in compromise mode, in the emergency), change credentials the
 * side lane's clients read once (the admin password, Connect's REST user, the registry's admin),
 * or restart the Connect worker with a new principal. Under `npm test` they wait until the side
 * lane has ended (test/stackEnv.ts); the stack sequencer runs them near the end of the stack
 * lane, by which time it has (the side lane takes about a quarter of the stack lane).
 */
export const afterStackSideFiles = [
  'test/e2e/emergencyRotateAll.test.ts',
  'test/e2e/postgresAdminRotation.test.ts',
  'test/e2e/connectRestRotation.test.ts',
  'test/e2e/kafkaScramRotation.test.ts',
  'test/e2e/registryAdminRotation.test.ts',
  'test/e2e/httpsCertificateRotation.test.ts',
];
