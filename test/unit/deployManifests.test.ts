import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../scripts/stack/config.js';
import { siblings } from '../../activities/secrets/store.js';
import { DEFAULT_CA_SECRET, DEFAULT_CERT_SECRETS } from '../../workflows/certificates/input.js';
import { defaultSecrets } from '../../workflows/rotation/index.js';

/**
 * deploy/rbac.yaml and deploy/admission-policy.yaml name the Secrets rekey writes (RBAC by
 * resourceNames, the policy by the names it lets the worker create). A secret rekey rotates that
 * either list misses fails in production only (Forbidden), never on the stack's admin kubeconfig:
 * the lists are checked here against the secrets the code rotates.
 */
const docs = (file: string) => parseAllDocuments(fs.readFileSync(path.join(repoRoot, 'deploy', file), 'utf8')).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
const rotated = [...Object.values(defaultSecrets), ...Object.values(DEFAULT_CERT_SECRETS), DEFAULT_CA_SECRET].flatMap((name) => {
  const s = siblings(name);
  return [s.current, s.pending, s.backup];
});

describe('deploy/ names every secret rekey rotates', () => {
  it('the Role may get, patch and delete each one and its -pending/-backup, and only those with the admin secret', () => {
    const role = docs('rbac.yaml').find((d) => d.kind === 'Role')!;
    const secretRules = role.rules.filter((r: { resources: string[] }) => r.resources.includes('secrets'));
    const writable = secretRules.find((r: { verbs: string[] }) => r.verbs.includes('patch'));
    expect(writable.verbs.sort()).toEqual(['delete', 'get', 'patch']);
    expect([...writable.resourceNames].sort()).toEqual([...rotated].sort());
  });

  it('the admission policy lets the worker create exactly those names', () => {
    const policy = docs('admission-policy.yaml').find((d) => d.kind === 'ValidatingAdmissionPolicy')!;
    const list = policy.spec.variables.find((v: { name: string }) => v.name === 'secretNames').expression as string;
    const names = [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...rotated].sort());
    const binding = docs('admission-policy.yaml').find((d) => d.kind === 'ValidatingAdmissionPolicyBinding')!;
    expect(binding.spec).toMatchObject({ policyName: policy.metadata.name, validationActions: ['Deny'] });
  });
});
