import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadStackConfig, pipeline, repoRoot } from '../../scripts/stack/config.js';

/**
 * The alert rules read Connect's and Debezium's metrics by name; those names come from the JMX
 * exporter config rekey ships (deploy/monitoring/kafka-connect-metrics.yaml). The stack's Connect
 * runs the exporter agent 1.0.1 with that very config: every name the rules use must be in its
 * scrape, with the labels the rules match on.
 */
const cfg = loadStackConfig();
const rules = parse(fs.readFileSync(path.join(repoRoot, 'deploy', 'prometheus', 'rules.yaml'), 'utf8')) as {
  groups: Array<{ rules: Array<{ expr: string }> }>;
};
const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n');

/** The series names the rules read from the Connect workers (a `{__name__=~"kafka_(a|b)_x"}` alternation expanded). */
function connectNames(): string[] {
  const plain = [...exprs.matchAll(/\b(kafka_connect_[a-z_]+|debezium_metrics_[A-Za-z]+)\b/g)].map((m) => m[1]!);
  const alternation = [...exprs.matchAll(/__name__=~"kafka_\(([a-z_|]+)\)_([a-z_]+)"/g)].flatMap((m) =>
    m[1]!.split('|').map((c) => `kafka_${c}_${m[2]}`),
  );
  return [...new Set([...plain, ...alternation])].sort();
}

/** One scrape; '' while Connect does not answer (the stack lane restarts it beside this file). */
async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${cfg.ports.connectMetrics}/metrics`, {
    signal: AbortSignal.timeout(5000),
  }).catch(() => undefined);
  return res?.status === 200 ? res.text() : '';
}

/**
 * A scrape of a Connect that streams: Debezium registers its streaming metrics once the
 * connector streams, and a Connect just restarted by the stack lane needs a while to get there.
 */
async function streamingScrape(timeoutMs = 180_000): Promise<string> {
  // the connector's own status series too: a worker the stack lane just restarted may not export it yet
  const streaming = (t: string) =>
    /^debezium_metrics_MilliSecondsBehindSource\{/m.test(t) &&
    new RegExp(`^kafka_connect_connector_status\\{connector="${pipeline.connector}",status="running"`, 'm').test(t) &&
    new RegExp(`^kafka_connect_connector_task_status\\{connector="${pipeline.connector}",status="running"`, 'm').test(
      t,
    );
  const deadline = Date.now() + timeoutMs;
  let text = await scrape();
  while (!streaming(text) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    text = await scrape();
  }
  return text;
}

describe("Kafka Connect's JMX exporter config serves the names the alert rules read", () => {
  it('every Connect and Debezium series of the rules is in the scrape, with the labels the rules match', async () => {
    const names = connectNames();
    expect(names).toEqual(
      expect.arrayContaining([
        'kafka_connect_connector_status',
        'kafka_connect_connector_task_status',
        'debezium_metrics_MilliSecondsBehindSource',
        'kafka_connect_failed_authentication_total',
      ]),
    );
    const text = await streamingScrape();
    const exported = new Set([...text.matchAll(/^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/gm)].map((m) => m[1]!));
    expect(
      names.filter((n) => !exported.has(n)),
      `missing from the scrape of ${[...exported].length} names`,
    ).toEqual([]);
    expect(text).toMatch(
      new RegExp(
        `^kafka_connect_connector_status\\{connector="${pipeline.connector}",status="running",?\\} 1\\.0$`,
        'm',
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `^kafka_connect_connector_task_status\\{connector="${pipeline.connector}",status="running",task="0",?\\} 1\\.0$`,
        'm',
      ),
    );
    expect(text).toMatch(
      /^debezium_metrics_MilliSecondsBehindSource\{context="streaming",name="ecommerce",plugin="postgres",?[^}]*\} -?\d/m,
    );
  });
});
