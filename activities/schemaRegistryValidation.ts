import { Kafka } from 'kafkajs';
import type { KafkaConnection } from './kafka.js';
import { fail, list, pass, runCheck, skip, verdict, type CheckResult } from './checks.js';
import { authOutcome, type RegistryApi, registryApi } from './registryApi.js';
import type { SecretStore } from './secrets/store.js';
import { checklist } from '../contracts/checklist.js';

const lines = checklist['schema-registry'];

export interface RegistryValidationInput {
  secret: string;
  /** Accounts whose current user must authenticate (clients read `<account>-user`/`-password`). */
  accounts: string[];
  /** Kafka topics with this prefix carry registry-encoded values: each needs its `<topic>-value` subject. */
  topicPrefix: string;
}

type Creds = { user: string; password: string };

/** The registry's API (Apicurio's, or Confluent's) with the accounts' credentials from the store, and Kafka's topic list. */
export function createSchemaRegistryValidation(deps: {
  store: SecretStore;
  url: string;
  /** rekey's Kafka connection (the brokers named in the checks' text). */
  kafka: KafkaConnection;
  brokers: string[];
  api?: RegistryApi;
  fetch?: typeof fetch;
}) {
  const base = deps.url.replace(/\/+$/, '');
  const api = deps.api ?? registryApi();
  async function get(path: string, creds?: Creds): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = creds
      ? { authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}` }
      : {};
    const res = await (deps.fetch ?? fetch)(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: undefined };
    }
  }

  async function credentials(secret: string, account: string): Promise<Creds | undefined> {
    const s = await deps.store.read(secret);
    const user = s?.data[`${account}-user`];
    const password = s?.data[`${account}-password`];
    return user && password ? { user, password } : undefined;
  }

  async function kafkaTopics(): Promise<string[]> {
    const admin = new Kafka({ ...(await deps.kafka()), retry: { retries: 2 } }).admin();
    await admin.connect();
    try {
      return await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async function authentication(secret: string, accounts: string[]) {
    const seen: string[] = [];
    let ok = true;
    for (const account of accounts) {
      const creds = await credentials(secret, account);
      if (!creds) {
        ok = false;
        seen.push(`${account}: no ${account}-user/-password in ${secret}`);
        continue;
      }
      const { status } = await get(api.authProbe, creds);
      ok &&= authOutcome(status) === 'accepted';
      seen.push(`${account} (${creds.user}): HTTP ${status}`);
    }
    const anonymous = (await get(api.authProbe)).status;
    ok &&= authOutcome(anonymous) === 'refused';
    seen.push(`no credentials: HTTP ${anonymous}`);
    return verdict(ok, seen.join('; '));
  }

  /** Confluent keeps every schema in one compacted topic, `_schemas` unless kafkastore.topic names another. */
  async function confluentStorage() {
    const topics = await kafkaTopics();
    if (topics.includes('_schemas')) return pass(`_schemas present among ${topics.length} topics`);
    return skip(
      `no _schemas topic among ${topics.length}: the registry's kafkastore.topic names another (not checked)`,
    );
  }

  async function validateSchemaRegistry(input: RegistryValidationInput): Promise<CheckResult[]> {
    const check = (line: string, queried: string, expected: string, probe: Parameters<typeof runCheck>[4]) =>
      runCheck('schema-registry', line, queried, expected, probe);
    const admin = await credentials(input.secret, input.accounts[0] ?? 'admin');
    const info = await get(api.info, admin).catch(() => ({ status: 0, body: undefined }));
    const infoBody = info.body as { name?: string; version?: string } | undefined;
    return [
      await check(
        lines.service,
        `GET ${base}${api.info} as ${input.accounts[0]}`,
        api.flavour === 'apicurio' ? 'HTTP 200 with name and version' : 'HTTP 200',
        async () =>
          verdict(
            info.status === 200,
            info.status
              ? `HTTP ${info.status}: ${infoBody?.name ?? api.flavour} ${infoBody?.version ?? ''}`.trim()
              : 'unreachable',
          ),
      ),
      await check(
        lines.auth,
        `GET ${base}${api.authProbe} as each of ${list(input.accounts)} (credentials from ${input.secret}), and without credentials`,
        'every account accepted (any answer but 401/403/5xx); no credentials refused (401/403)',
        () => authentication(input.secret, input.accounts),
      ),
      await check(
        lines.compatibility,
        `GET ${base}${api.config()} and ${api.config()}/<subject>?defaultToGlobal=true for every subject`,
        'BACKWARD globally and for every subject',
        async () => {
          const global = (await get(api.config(), admin)).body as { compatibilityLevel?: string } | undefined;
          const subjects = ((await get(api.subjects, admin)).body as string[] | undefined) ?? [];
          const off: string[] = [];
          for (const s of subjects) {
            const c = (await get(api.config(s), admin)).body as { compatibilityLevel?: string } | undefined;
            if (c?.compatibilityLevel !== 'BACKWARD') off.push(`${s}=${c?.compatibilityLevel ?? '?'}`);
          }
          return verdict(
            global?.compatibilityLevel === 'BACKWARD' && off.length === 0,
            `global ${global?.compatibilityLevel ?? '?'}, ${subjects.length} subjects, not BACKWARD: ${list(off)}`,
          );
        },
      ),
      await check(
        lines.kafka,
        api.flavour === 'confluent'
          ? `Confluent's schema topic in Kafka ${deps.brokers.join(',')}`
          : `registry storage (system/info name); with KafkaSQL storage, its journal topic in Kafka ${deps.brokers.join(',')}`,
        api.flavour === 'confluent'
          ? 'the _schemas topic exists'
          : 'KafkaSQL: the kafkasql-journal topic exists; SQL storage: nothing to check',
        async () => {
          if (api.flavour === 'confluent') return confluentStorage();
          const name = infoBody?.name ?? '';
          if (!name) return fail(`registry storage unknown (system/info HTTP ${info.status})`);
          if (!/kafka/i.test(name))
            return skip(
              `${name}: schemas are kept in SQL storage, the registry has no Kafka connection (its clients' path to Kafka is checked under kafka-connect)`,
            );
          const topics = await kafkaTopics();
          return verdict(
            topics.includes('kafkasql-journal'),
            `${name}: kafkasql-journal ${topics.includes('kafkasql-journal') ? 'present' : 'absent'} among ${topics.length} topics`,
          );
        },
      ),
      await check(
        lines.subjects,
        `Kafka topics ${input.topicPrefix}* (brokers ${deps.brokers.join(',')}); GET ${api.subjects}/<topic>-value/versions/latest`,
        'every data topic has a readable <topic>-value subject',
        async () => {
          const topics = (await kafkaTopics()).filter((t) => t.startsWith(input.topicPrefix)).sort();
          if (topics.length === 0) return fail(`no Kafka topic starts with ${input.topicPrefix}`);
          const seen: string[] = [];
          const missing: string[] = [];
          for (const t of topics) {
            const r = await get(api.latest(`${t}-value`), admin);
            const v = r.body as { version?: number; id?: number } | undefined;
            if (r.status === 200 && v?.version) seen.push(`${t}-value v${v.version} (id ${v.id})`);
            else missing.push(`${t}-value (HTTP ${r.status})`);
          }
          return missing.length ? fail(`missing: ${list(missing)}; registered: ${list(seen)}`) : pass(list(seen));
        },
      ),
    ];
  }

  return { validateSchemaRegistry };
}
