import { fail, list, pass, runCheck, skip, verdict, type CheckResult } from './checks.js';
import { checklist } from '../contracts/checklist.js';

const lines = checklist['kafka-connect'];

export interface ConnectValidationInput {
  /** The Debezium source connector. */
  connector: string;
  /** Other connectors whose plugins must be installed too (e.g. the S3 sink), if deployed. */
  alsoDeployed: string[];
}

interface Status {
  connector: { state: string; worker_id?: string };
  tasks: Array<{ id: number; state: string; trace?: string }>;
}

/** Kafka Connect's REST API, read only (the config validation endpoint is a dry run: it creates nothing). */
export function createKafkaConnectValidation(deps: { url: string; fetch?: typeof fetch }) {
  const base = deps.url.replace(/\/+$/, '');
  async function rest<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T | undefined }> {
    const res = await (deps.fetch ?? fetch)(`${base}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    let body: T | undefined;
    try {
      body = JSON.parse(text) as T;
    } catch {
      body = undefined;
    }
    return { status: res.status, body };
  }
  const statusOf = (c: string) => rest<Status>(`/connectors/${encodeURIComponent(c)}/status`);
  const configOf = (c: string) => rest<Record<string, string>>(`/connectors/${encodeURIComponent(c)}/config`);
  const taskLine = (s: Status) =>
    s.tasks
      .map((t) => `${t.id}:${t.state}${t.trace ? ` (${t.trace.split('\n')[0]!.slice(0, 160)})` : ''}`)
      .join(', ') || 'no tasks';

  /** PostgreSQL as the connector reaches it: Connect's own validation resolves the credentials and logs in. */
  async function postgresFromConnect(config: Record<string, string>): Promise<string | undefined> {
    const plugin = config['connector.class']!.split('.').pop()!;
    const { status, body } = await rest<{
      error_count: number;
      configs: Array<{ value: { name: string; errors: string[] } }>;
    }>(`/connector-plugins/${plugin}/config/validate`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(config),
    });
    if (status !== 200 || !body) return `validate answered HTTP ${status}`;
    const errors = body.configs.flatMap((c) => c.value.errors.map((e) => `${c.value.name}: ${e}`));
    return errors.length ? errors.join('; ').slice(0, 400) : undefined;
  }

  async function connectivity(connector: string, config: Record<string, string>) {
    const problems: string[] = [];
    const seen: string[] = [];
    const pgError = await postgresFromConnect(config);
    if (pgError) problems.push(`PostgreSQL: ${pgError}`);
    else
      seen.push(
        `PostgreSQL ${config['database.hostname']}:${config['database.port']} accepted the connector's login (config validation)`,
      );
    const offsets = await rest<{ offsets: unknown[] }>(`/connectors/${encodeURIComponent(connector)}/offsets`);
    const topics = await rest<Record<string, { topics: string[] }>>(
      `/connectors/${encodeURIComponent(connector)}/topics`,
    );
    const active = topics.body?.[connector]?.topics ?? [];
    if (offsets.status !== 200 || active.length === 0)
      problems.push(`Kafka: offsets HTTP ${offsets.status}, ${active.length} active topics`);
    else seen.push(`Kafka: ${offsets.body?.offsets.length ?? 0} source offset(s) read back, writes to ${list(active)}`);
    const registryUrl = Object.entries(config).find(([k]) => k.endsWith('.apicurio.registry.url'))?.[1];
    if (!registryUrl) seen.push('Schema Registry: the connector uses no registry converter');
    else {
      const res = await fetch(`${registryUrl.replace(/\/+$/, '')}/system/info`, {
        signal: AbortSignal.timeout(10_000),
      }).catch((e: Error) => e);
      if (res instanceof Error) problems.push(`Schema Registry ${registryUrl}: unreachable (${res.message})`);
      else seen.push(`Schema Registry ${registryUrl} answers (HTTP ${res.status} without credentials)`);
    }
    return problems.length ? fail([...problems, ...seen].join('; ')) : pass(seen.join('; '));
  }

  async function validateKafkaConnect(input: ConnectValidationInput): Promise<CheckResult[]> {
    const check = (line: string, queried: string, expected: string, probe: Parameters<typeof runCheck>[4]) =>
      runCheck('kafka-connect', line, queried, expected, probe);
    const cfg = await configOf(input.connector).catch(() => ({ status: 0, body: undefined }));
    const status = await statusOf(input.connector).catch(() => ({ status: 0, body: undefined }));
    const missingConnector = `connector ${input.connector}: ${cfg.status ? `HTTP ${cfg.status}` : 'Kafka Connect unreachable'}`;
    return [
      await check(
        lines.service,
        `GET ${base}/ and /connectors`,
        'HTTP 200 with the worker version and the connector listed',
        async () => {
          const root = await rest<{ version: string; kafka_cluster_id: string }>('/');
          const names = await rest<string[]>('/connectors');
          const ok = root.status === 200 && names.status === 200 && (names.body ?? []).includes(input.connector);
          return verdict(
            ok,
            `version ${root.body?.version ?? '?'} (Kafka cluster ${root.body?.kafka_cluster_id ?? '?'}), connectors: ${list(names.body ?? [])}`,
          );
        },
      ),
      await check(
        lines.plugins,
        `GET ${base}/connector-plugins?connectorsOnly=false`,
        'the class of every deployed connector and of its value converter',
        async () => {
          const plugins = new Set(
            ((await rest<Array<{ class: string }>>('/connector-plugins?connectorsOnly=false')).body ?? []).map(
              (p) => p.class,
            ),
          );
          const needed = new Set<string>();
          for (const name of [input.connector, ...input.alsoDeployed]) {
            const c = name === input.connector ? cfg : await configOf(name);
            if (c.status === 404 && name !== input.connector) continue; // not deployed
            if (!c.body) return fail(`config of ${name}: HTTP ${c.status}`);
            for (const k of ['connector.class', 'value.converter', 'key.converter'])
              if (c.body[k]) needed.add(c.body[k]);
          }
          const missing = [...needed].filter((c) => !plugins.has(c));
          return verdict(missing.length === 0, `needed ${list([...needed])}; missing: ${list(missing)}`);
        },
      ),
      await check(
        lines.connectorRunning,
        `GET ${base}/connectors/${input.connector}/status`,
        'connector.state RUNNING',
        async () => {
          if (!status.body) return fail(missingConnector);
          return verdict(
            status.body.connector.state === 'RUNNING',
            `connector ${status.body.connector.state} on ${status.body.connector.worker_id ?? '?'}`,
          );
        },
      ),
      await check(
        lines.tasksRunning,
        `GET ${base}/connectors/${input.connector}/status`,
        'at least one task, every task RUNNING',
        async () => {
          if (!status.body) return fail(missingConnector);
          const s = status.body;
          return verdict(s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING'), `tasks ${taskLine(s)}`);
        },
      ),
      await check(
        lines.connectivity,
        `PUT ${base}/connector-plugins/<class>/config/validate with the connector's config; GET …/offsets and …/topics; the converter's registry URL`,
        'PostgreSQL login accepted, offsets read from Kafka and topics written, registry reachable',
        async () => (cfg.body ? connectivity(input.connector, cfg.body) : fail(missingConnector)),
      ),
    ];
  }

  /** The S3 line "S3 Sink connector is running (if deployed)": not deployed is a skip, not a failure. */
  async function validateSinkConnector(input: { connector: string }): Promise<CheckResult> {
    return runCheck(
      's3',
      checklist.s3.sink,
      `GET ${base}/connectors/${input.connector}/status`,
      'connector and every task RUNNING (skipped when not deployed)',
      async () => {
        const s = await statusOf(input.connector);
        if (s.status === 404) return skip(`connector ${input.connector} is not deployed (HTTP 404)`);
        if (!s.body) return fail(`HTTP ${s.status}`);
        const ok =
          s.body.connector.state === 'RUNNING' &&
          s.body.tasks.length > 0 &&
          s.body.tasks.every((t) => t.state === 'RUNNING');
        return verdict(ok, `connector ${s.body.connector.state}, tasks ${taskLine(s.body)}`);
      },
    );
  }

  return { validateKafkaConnect, validateSinkConnector };
}
