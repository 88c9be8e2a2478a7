import { createAccessActivities } from './access.js';
import { createAdminPasswordActivities } from './adminPassword.js';
import { createAppRoleActivities } from './appRoles.js';
import { createCanaryActivities } from './canary.js';
import { createConnections, type PostgresDeps } from './connection.js';
import { createReplicationActivities } from './replication.js';
import { createRetireActivities } from './retire.js';
import { createRoleActivities } from './roles.js';
import { createPostgresValidation } from './validation.js';

export { assertIdentifier, MAX_WAIT_MS, SAFE_IDENTIFIER, type PostgresDeps } from './connection.js';
export { CANARY_MARKER, CANARY_TABLE } from './canary.js';
export type { ReplicationState } from './replication.js';
export type { RoleInfo } from './roles.js';
export { ROTATION_TAG } from './roleInfo.js';
export { scramSha256Verifier } from './scram.js';

/**
 * PostgreSQL activities of a rotation. Secret values are read from `deps.store` inside
 * the activity that needs them and never appear in a result, error or log line; SQL
 * identifiers and literals go through the driver's escapeIdentifier/escapeLiteral or
 * bind parameters.
 */
export function createPostgresActivities(deps: PostgresDeps) {
  const conns = createConnections(deps);
  return {
    ...createReplicationActivities(conns),
    ...createRoleActivities(conns),
    ...createRetireActivities(conns),
    ...createAccessActivities(conns),
    ...createCanaryActivities(conns),
    ...createPostgresValidation(conns),
    ...createAdminPasswordActivities(conns, { store: deps.store, adminSecret: deps.adminSecret }),
    ...createAppRoleActivities(conns),
  };
}
