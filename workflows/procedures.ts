import { type CredentialProcedureId, credentialProcedureIds, credentialProcedures } from '../contracts/procedures.js';
import { rotateAwsAccessKeys } from './awsKeys/workflow.js';
import { rotateConnectRestCredentials } from './connectRest/workflow.js';
import { rotateKafkaScramCredentials } from './kafkaScram/workflow.js';
import { rotatePostgresAdminPassword } from './postgresAdmin/workflow.js';
import { rotatePostgresAppCredentials } from './postgresApp/workflow.js';
import { rotatePostgresCdcCredentials } from './postgresCdc/workflow.js';
import type { RotationResult } from './rotation/index.js';
import { rotateSchemaRegistryCredentials } from './schemaRegistry/workflow.js';

/** A credential rotation as a parent launches it: plain JSON in (the procedure validates it), the kit's result out. */
export type CredentialRotation = (input: Record<string, unknown>) => Promise<RotationResult>;

export type CredentialProcedure = CredentialProcedureId;

/**
 * The workflow of each credential procedure: its contract (contracts/procedures.ts) with the
 * code that runs it. A procedure in the contract table without its line here does not compile.
 */
export const credentialWorkflows = {
  'postgresql-cdc': rotatePostgresCdcCredentials,
  'schema-registry': rotateSchemaRegistryCredentials,
  'aws-keys': rotateAwsAccessKeys,
  'kafka-scram': rotateKafkaScramCredentials,
  'connect-rest': rotateConnectRestCredentials,
  'postgresql-admin': rotatePostgresAdminPassword,
  'postgresql-app': rotatePostgresAppCredentials,
} satisfies Record<CredentialProcedureId, (input: never) => Promise<RotationResult>>;

/** What a parent workflow (a Schedule's run, the emergency switch) starts as a child, by procedure id. */
export const credentialRotations = Object.fromEntries(
  credentialProcedureIds.map((id) => [
    id,
    { run: credentialWorkflows[id] as CredentialRotation, defaultSecret: credentialProcedures[id].defaultSecret },
  ]),
) as Record<CredentialProcedureId, { run: CredentialRotation; defaultSecret: string }>;
