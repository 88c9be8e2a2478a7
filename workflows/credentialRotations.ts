import { rotateAwsAccessKeys } from './awsKeys/workflow.js';
import { rotatePostgresCdcCredentials } from './postgresCdc/workflow.js';
import { defaultSecrets, type RotationResult } from './rotation/index.js';
import { rotateSchemaRegistryCredentials } from './schemaRegistry/workflow.js';

/** A credential rotation as a parent launches it: plain JSON in (the procedure validates it), the kit's result out. */
export type CredentialRotation = (input: Record<string, unknown>) => Promise<RotationResult>;

export type CredentialProcedure = keyof typeof defaultSecrets;

/**
 * The credential rotations a parent workflow starts as children (a Schedule's run, the
 * emergency switch), by procedure name: one list, so a new procedure is launchable from both.
 */
export const credentialRotations: Record<CredentialProcedure, { run: CredentialRotation; defaultSecret: string }> = {
  'postgresql-cdc': {
    run: rotatePostgresCdcCredentials as CredentialRotation,
    defaultSecret: defaultSecrets['postgresql-cdc'],
  },
  'schema-registry': {
    run: rotateSchemaRegistryCredentials as CredentialRotation,
    defaultSecret: defaultSecrets['schema-registry'],
  },
  'aws-keys': { run: rotateAwsAccessKeys as CredentialRotation, defaultSecret: defaultSecrets['aws-keys'] },
};
