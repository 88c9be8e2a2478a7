import { inject } from 'vitest';

// The stack lane's setup file: the workers each test file starts (in-process, or as worker
// processes that inherit this environment) load the workflow code its global setup bundled once.
process.env.REKEY_DEV_WORKFLOW_BUNDLE ??= inject('stackWorkflowBundlePath');
