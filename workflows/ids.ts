/** Workflow id as the Web UI lists it: procedure, target, UTC start time. */
export function rotationWorkflowId(procedure: string, target: string, at: Date): string {
  return `rotate-${procedure}/${target}/${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}
