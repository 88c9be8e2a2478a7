/**
 * One rotation per resource: the workflow id is `rotate-<procedure>/<resource>`, so the
 * server itself refuses a second running rotation of the same credential (the default
 * conflict policy FAIL), and finished runs stay listed under the same id in the Web UI.
 */
export function rotationWorkflowId(procedure: string, resource: string): string {
  return `rotate-${procedure}/${resource}`;
}

/** Dry runs change nothing, so they never hold the resource's id. */
export function dryRunWorkflowId(procedure: string, resource: string, at: Date): string {
  return `${rotationWorkflowId(procedure, resource)}/dry-run/${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}
