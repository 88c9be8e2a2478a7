/** The rotation kit: what every procedure composes. */
export { activityOptions } from './activityOptions.js';
export { procedureActivities } from './procedureActivities.js';
export * from './definitions.js';
export { formatDuration, MAX_GRACE_MS, parseIsoDuration } from '../../contracts/duration.js';
export { describeError, RollbackRequested } from './errors.js';
export { dryRunWorkflowId, rotationWorkflowId } from '../../contracts/ids.js';
export { defaultSecrets } from '../../contracts/procedures.js';
export { Rotation } from './rotation.js';
export { restartStamp } from './restartStamp.js';
export type { RotationPlanBasics, RotationSpec } from './spec.js';
export {
  MaintenanceWindowInput,
  type MaintenanceWindow,
  OutsideMaintenanceWindow,
  windowRefusal,
} from '../../contracts/window.js';
export { check, type CheckResult, gatePreflight, resolvePlanOnWorker } from './preflight.js';
export { CANARY_TIMEOUT_MS, canarySteps, type CanarySteps, proveByCanary } from './canary.js';
