export { rotatePostgresCdcCredentials } from './postgresCdc/workflow.js';
export { rotateSchemaRegistryCredentials } from './schemaRegistry/workflow.js';
export { rotateAwsAccessKeys } from './awsKeys/workflow.js';
export { rotateKafkaScramCredentials } from './kafkaScram/workflow.js';
export { rotateConnectRestCredentials } from './connectRest/workflow.js';
export { rotatePostgresAdminPassword } from './postgresAdmin/workflow.js';
export { rotateServiceCertificate } from './certificates/workflow.js';
/** Still registered: rotations started before the rotation kit hold one as a child. */
export { targetLock } from './legacy/targetLock.js';
export { runScheduled } from './schedules/workflow.js';
export { validatePipeline } from './validation/workflow.js';
export { emergencyRotateAll } from './emergency/rotateAll.js';
export { isolateDeployment } from './emergency/isolate.js';
export { renewCertificates } from './certificates/renew.js';
export { rotateCertificateAuthority } from './certificates/authority.js';
export { issueFirstCertificate } from './certificates/issue.js';
export { initCertificateAuthority } from './certificates/initCa.js';
export { workloadLease } from './rotation/lease.js';
