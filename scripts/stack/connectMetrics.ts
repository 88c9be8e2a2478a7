import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot, type StackConfig } from './config.js';

/** The shipped JMX exporter config for Connect + Debezium: the ConfigMap platform teams apply, read as it is. */
export const connectMetricsConfigMap = path.join(repoRoot, 'deploy', 'monitoring', 'kafka-connect-metrics.yaml');

export function connectMetricsConfig(): string {
  const doc = parse(fs.readFileSync(connectMetricsConfigMap, 'utf8')) as { data: Record<string, string> };
  return doc.data['metrics-config.yml']!;
}

/**
 * The JMX exporter agent on the stack's Connect worker, with the shipped rules: its scrape on
 * `ports.connectMetrics` is what the alert rules' names are checked against.
 */
export function connectMetricsAgent(cfg: StackConfig, dir: string): string {
  const file = path.join(dir, 'jmx-exporter.yml');
  fs.writeFileSync(file, connectMetricsConfig());
  const jar = path.join(
    cfg.cache,
    `jmx-exporter-${cfg.versions.jmxExporter}`,
    'libs',
    `jmx_prometheus_javaagent-${cfg.versions.jmxExporter}.jar`,
  );
  return `-javaagent:${jar}=127.0.0.1:${cfg.ports.connectMetrics}:${file}`;
}
