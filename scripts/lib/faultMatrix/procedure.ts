import type { Client, WorkflowHandle } from '@temporalio/client';
import type { SecretStore } from '../../../activities/secrets/store.js';
import type { StackConfig } from '../../stack/config.js';

/** What the fault matrix knows of one procedure: how to start it and how to tell what its clients use. */
export const procedureNames = [
  'cdc',
  'registry',
  'aws',
  'cert',
  'scram',
  'connect-rest',
  'postgresql-admin',
  'postgresql-app',
] as const;
export type ProcedureName = (typeof procedureNames)[number];

/** The credential a procedure's clients use right now, as an operator would check it. */
export interface InUse {
  /** Who or what the credential is: CDC user, registry user, access key id, certificate fingerprint. */
  id: string | null;
  /** Problems seen in the pipeline's end state (empty: consistent). */
  problems: string[];
}

export interface Procedure {
  name: ProcedureName;
  /** The secrets it rotates: checked for leftovers and for values leaking into history. */
  secrets: string[];
  start(client: Client, taskQueue: string, extra?: Record<string, unknown>): Promise<WorkflowHandle>;
  inUse(cx: ProbeContext): Promise<InUse>;
}

export interface ProbeContext {
  cfg: StackConfig;
  store: SecretStore;
}
