import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/stack/config.js';

const run = promisify(execFile);
const rulesDir = path.join(repoRoot, 'deploy/prometheus');
const rulesFile = path.join(rulesDir, 'rules.yaml');
/** Minute-scale alerts, the rotation policy alert over months and certificate expiry over weeks (both evaluated hourly: promtool evaluates every interval). */
const testFiles = ['rules.test.yaml', 'rules.overdue.test.yaml', 'rules.certificates.test.yaml'];

/** The runbook's "Alert Definitions", by the names rules.yaml gives them. */
const runbookAlerts = [
  'CDCReplicationSlotInactive',
  'ConnectorFailed',
  'AuthenticationFailures',
  'CredentialRotationOverdue',
  'HighCDCLag',
  'LowMemory',
  'SchemaRegistryUnavailable',
  'S3AccessIssues',
];

let promtool = '';
beforeAll(async () => {
  // built from the Go module proxy into ~/.cache/rekey/prometheus-<version> (a no-op when cached)
  const { stdout } = await run('bash', [path.join(repoRoot, 'scripts/stack/install-prometheus.sh')], {
    timeout: 1_800_000,
  });
  promtool = path.join(stdout.trim(), 'promtool');
}, 1_800_000);

const promtoolRun = (args: string[], cwd = rulesDir) =>
  run(promtool, args, { cwd }).then(
    ({ stdout, stderr }) => ({ ok: true, out: stdout + stderr }),
    (err: { stdout?: string; stderr?: string }) => ({ ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );

const alertNames = (yaml: string) => [...yaml.matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]!);

describe('deploy/prometheus/rules.yaml (the runbook alerts)', () => {
  it('is valid for Prometheus: promtool check rules passes its syntax, PromQL and lint checks', async () => {
    const r = await promtoolRun(['check', 'rules', rulesFile]);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.ok).toBe(true);
  });

  it('holds every alert of the runbook, each tested firing and not firing', () => {
    const rules = fs.readFileSync(rulesFile, 'utf8');
    const tests = testFiles.map((f) => fs.readFileSync(path.join(rulesDir, f), 'utf8')).join('\n');
    const defined = new Set(alertNames(rules));
    for (const name of runbookAlerts) expect(defined.has(name), `${name} in rules.yaml`).toBe(true);
    for (const name of defined) {
      expect(tests, `${name} tested firing`).toMatch(
        new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
      );
      expect(tests, `${name} tested not firing`).toMatch(new RegExp(`alertname: ${name}, exp_alerts: \\[\\]`));
    }
    // the runbook example's mistakes: Connect's status is a label (the value is always 1); postgres_exporter names the slot metric pg_replication_slot_slot_is_active
    expect(rules).not.toMatch(/kafka_connect_connector_status\{[^}]*\}\s*!=\s*1/);
    expect(rules).not.toMatch(/pg_replication_slot_active\b/);
  });

  it('promtool test rules: the series for each alert make it fire, and only where it should', async () => {
    const r = await promtoolRun(['test', 'rules', ...testFiles]);
    expect(r.out.match(/SUCCESS/g)).toHaveLength(testFiles.length);
    expect(r.ok).toBe(true);
  });

  it('the rule tests have teeth: a wrong threshold fails them, naming the alert', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-rules-'));
    try {
      const rules = fs.readFileSync(rulesFile, 'utf8');
      // the runbook says 30 s of lag; a rule at 60 s would never page in the test's 45 s lag
      const broken = rules.replace(
        'MilliSecondsBehindSource{plugin="postgres", context="streaming"}) > 30000',
        'MilliSecondsBehindSource{plugin="postgres", context="streaming"}) > 60000',
      );
      expect(broken).not.toBe(rules);
      fs.writeFileSync(path.join(dir, 'rules.yaml'), broken);
      fs.copyFileSync(path.join(rulesDir, 'rules.test.yaml'), path.join(dir, 'rules.test.yaml'));
      const r = await promtoolRun(['test', 'rules', 'rules.test.yaml'], dir);
      expect(r.ok).toBe(false);
      expect(r.out).toMatch(/alertname: HighCDCLag/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
