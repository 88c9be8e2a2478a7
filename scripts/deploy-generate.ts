import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './stack/config.js';
import { siblings } from '../activities/secrets/store.js';
import { DEFAULT_CA_SECRET, DEFAULT_CERT_SECRETS } from '../contracts/input/certificate.js';
import { defaultSecrets } from '../workflows/rotation/index.js';

/**
 * The parts of deploy/ that restate what the code or another file already says, generated from
 * it so they cannot drift: the Secret names the Role and the admission policy let the worker
 * write (every secret rekey rotates, with its -pending and -backup), and the PrometheusRule
 * that carries deploy/prometheus/rules.yaml (the file promtool tests) to a Prometheus
 * Operator. `npm run deploy:generate` rewrites them; `--check` fails when one is stale
 * (test/unit/deployManifests.test.ts runs the same comparison).
 */
export function rotatedSecretNames(): string[] {
  return [...Object.values(defaultSecrets), ...Object.values(DEFAULT_CERT_SECRETS), DEFAULT_CA_SECRET].flatMap(
    (name) => {
      const s = siblings(name);
      return [s.current, s.pending, s.backup];
    },
  );
}

const deploy = (...p: string[]) => path.join(repoRoot, 'deploy', ...p);
const RBAC_START =
  '# the credentials rekey rotates, and their -pending/-backup siblings (generated: npm run deploy:generate)\n- apiGroups: [""]\n  resources: [secrets]\n  resourceNames:\n';
const RBAC_END = '  verbs: [get, patch, delete]\n';

function between(text: string, start: string, end: string, body: string, file: string): string {
  const a = text.indexOf(start);
  const b = a < 0 ? -1 : text.indexOf(end, a + start.length);
  if (a < 0 || b < 0) throw new Error(`${file}: the generated block's markers are missing`);
  return text.slice(0, a + start.length) + body + text.slice(b);
}

/** deploy/rbac.yaml with the Role's writable secret names generated. */
export function renderRbac(current: string): string {
  return between(
    current,
    RBAC_START,
    RBAC_END,
    rotatedSecretNames()
      .map((n) => `  - ${n}\n`)
      .join(''),
    'deploy/rbac.yaml',
  );
}

/** deploy/admission-policy.yaml with the names the worker may create generated (a CEL list, three per line). */
export function renderAdmissionPolicy(current: string): string {
  const names = rotatedSecretNames().map((n) => `'${n}'`);
  const lines = [];
  for (let i = 0; i < names.length; i += 3) lines.push(`      ${names.slice(i, i + 3).join(', ')}`);
  return between(
    current,
    '  - name: secretNames\n    expression: >-\n',
    '\n  validations:',
    `      [${lines.join(',\n').trimStart()}]`,
    'deploy/admission-policy.yaml',
  );
}

/** The PrometheusRule for clusters run by the Prometheus Operator: rules.yaml's groups, as they are. */
export function renderPrometheusRule(rules: string): string {
  const groups = rules.slice(rules.indexOf('groups:\n') + 'groups:\n'.length);
  return [
    '# Generated from deploy/prometheus/rules.yaml by `npm run deploy:generate`: edit that file (promtool tests it).',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: rekey-data-ingestion',
    '  namespace: data-ingestion',
    '  labels: { app.kubernetes.io/name: rekey }',
    'spec:',
    '  groups:',
    ...groups
      .trimEnd()
      .split('\n')
      .map((l) => (l ? `  ${l}` : l)),
    '',
  ].join('\n');
}

export const generated: Array<{ file: string; render: () => string }> = [
  { file: deploy('rbac.yaml'), render: () => renderRbac(fs.readFileSync(deploy('rbac.yaml'), 'utf8')) },
  {
    file: deploy('admission-policy.yaml'),
    render: () => renderAdmissionPolicy(fs.readFileSync(deploy('admission-policy.yaml'), 'utf8')),
  },
  {
    file: deploy('components', 'prometheus-operator', 'prometheusrule.yaml'),
    render: () => renderPrometheusRule(fs.readFileSync(deploy('prometheus', 'rules.yaml'), 'utf8')),
  },
];

if (process.argv[1] && import.meta.filename === fs.realpathSync(process.argv[1])) {
  const check = process.argv.includes('--check');
  const stale = generated.filter(({ file, render }) => {
    const want = render();
    const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (want !== have && !check) fs.writeFileSync(file, want);
    return want !== have;
  });
  for (const { file } of stale) console.log(`${check ? 'stale' : 'wrote'} ${path.relative(repoRoot, file)}`);
  if (check && stale.length) process.exit(1);
}
