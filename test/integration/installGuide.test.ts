import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execFileAsync } from '../../scripts/stack/proc.js';
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.js';
import { kubeBin, kubeconfigPath } from '../../scripts/stack/kube.js';

/**
 * docs/install.md as a platform engineer runs it: every `kubectl` line of its ```bash install
 * blocks, in order, against the embedded API server (Kubernetes 1.36) as cluster-admin, with
 * --dry-run=server: the manifests pass the server's schemas, the admission chain (the
 * ValidatingAdmissionPolicy included) and name resolution, and nothing is written.
 */
const cfg = loadStackConfig();
const guide = fs.readFileSync(path.join(repoRoot, 'docs/install.md'), 'utf8');
const commands = [...guide.matchAll(/```bash install\n([\s\S]*?)```/g)].flatMap((m) =>
  m[1]!.split('\n').filter((l) => l.startsWith('kubectl ')),
);

describe('docs/install.md', () => {
  it(
    'every kubectl command of the guide passes the API server (server-side dry run)',
    { timeout: 120_000 },
    async () => {
      expect(commands.length).toBeGreaterThanOrEqual(6);
      const env = {
        ...process.env,
        KUBECONFIG: kubeconfigPath(cfg),
        PATH: `${path.dirname(kubeBin(cfg, 'kubectl'))}:${process.env.PATH}`,
      };
      const failed: string[] = [];
      for (const command of commands) {
        const run = await execFileAsync('bash', ['-c', `${command} --dry-run=server`], { cwd: repoRoot, env }).then(
          ({ stdout }) => stdout,
          (e: { stderr?: string; message: string }) => `FAILED: ${e.stderr?.trim() || e.message}`,
        );
        if (!/\(server dry run\)/.test(run) || run.startsWith('FAILED')) failed.push(`${command}\n  → ${run.trim()}`);
      }
      expect(failed).toEqual([]);
    },
  );

  it("the Kustomize base with the Strimzi component, from an overlay of the operator's own, passes the API server too", async () => {
    const overlay = path.join(cfg.dir, 'test', 'overlay-strimzi');
    fs.mkdirSync(overlay, { recursive: true });
    const deploy = path.relative(overlay, path.join(repoRoot, 'deploy'));
    fs.writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      `resources: [${deploy}]\ncomponents: [${deploy}/components/strimzi]\nimages: [{ name: rekey-worker, newName: registry.example.com/platform/rekey-worker, digest: "sha256:${'a'.repeat(64)}" }]\n`,
    );
    const { stdout } = await execFileAsync(kubeBin(cfg, 'kubectl'), [
      '--kubeconfig',
      kubeconfigPath(cfg),
      'apply',
      '-k',
      overlay,
      '--dry-run=server',
      '-o',
      'yaml',
    ]);
    expect(stdout).toContain('REKEY_CONNECT_WORKLOAD: StrimziPodSet/kafka-connect-connect');
    expect(stdout).toContain(`image: registry.example.com/platform/rekey-worker@sha256:${'a'.repeat(64)}`);
    expect(stdout).toMatch(/kind: Role\n[\s\S]*name: rekey-worker-strimzi/);
  });

  it('the Prometheus Operator component renders from an overlay (client side: the embedded API server has no monitoring.coreos.com CRDs)', async () => {
    const overlay = path.join(cfg.dir, 'test', 'overlay-prometheus-operator');
    fs.mkdirSync(overlay, { recursive: true });
    const deploy = path.relative(overlay, path.join(repoRoot, 'deploy'));
    fs.writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      `resources: [${deploy}]\ncomponents: [${deploy}/components/prometheus-operator]\n`,
    );
    const { stdout } = await execFileAsync(kubeBin(cfg, 'kubectl'), ['kustomize', overlay]);
    expect(stdout).toMatch(/kind: PrometheusRule\n[\s\S]*name: rekey-data-ingestion/);
    expect(stdout.match(/kind: PodMonitor/g)?.length).toBe(2);
    expect(stdout).toMatch(/kind: ConfigMap\n[\s\S]*name: kafka-connect-metrics/);
  });
});
