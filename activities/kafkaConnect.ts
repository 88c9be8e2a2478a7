import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';

export interface ConnectorStatus {
  connector: string;
  state: string;
  tasks: Array<{ id: number; state: string; trace?: string }>;
}

/** How the Kafka Connect worker process itself is restarted (local process, or pods on Kubernetes). */
export interface ConnectWorkerRuntime {
  /**
   * `restartedAt`: the rollout's stamp, chosen by the workflow, so that a retried activity
   * re-applies the same pod-template annotation (no second rollout) and only waits.
   */
  restart(onProgress: (detail: string) => void, restartedAt?: string): Promise<void>;
}

export interface KafkaConnectDeps {
  url: string;
  worker?: ConnectWorkerRuntime;
  /** A fetch trusting the configured CA when the URL is https:// (default: the global fetch). */
  fetch?: typeof fetch;
}

/** How long one Connect REST call rides out a Connect that is unreachable or answers 5xx. */
const CONNECT_TRANSIENT_MS = 25_000;

const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A heartbeat when running as an activity (the integration tests call these functions directly). */
function beat(detail: string): void {
  try {
    heartbeat(detail);
  } catch {
    // not in an activity context
  }
}

export function createKafkaConnectActivities(deps: KafkaConnectDeps) {
  /**
   * One request: the response, or the failure it is. Transient: unreachable, 5xx, or 409 —
   * Connect answers 409 ("Cannot complete request momentarily due to stalled rebalance" /
   * "rebalance is in progress") while its group rebalances, which a restart of any task in a
   * distributed cluster can trigger (Kafka Connect's ConnectorsResource, RebalanceNeededException).
   */
  async function request(
    method: string,
    path: string,
    expect: number[],
  ): Promise<Response | { failure: ApplicationFailure; transient: boolean }> {
    let res: Response;
    try {
      res = await (deps.fetch ?? fetch)(`${deps.url}${path}`, { method, signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      // the request was never sent: its credential could not be read (a missing or forbidden secret)
      if (err instanceof ApplicationFailure) return { failure: err, transient: false };
      return {
        failure: ApplicationFailure.retryable(
          `Kafka Connect ${method} ${path} unreachable: ${(err as Error).message}`,
          'ConnectUnavailable',
        ),
        transient: true,
      };
    }
    if (expect.includes(res.status)) return res;
    const body = (await res.text()).slice(0, 300);
    const failure = `Kafka Connect ${method} ${path} answered HTTP ${res.status}: ${body}`;
    if (res.status === 404)
      return { failure: ApplicationFailure.nonRetryable(failure, 'ConnectorNotFound'), transient: false };
    // a retry sends the same credential: say which setting names it instead
    if (res.status === 401 || res.status === 403)
      return {
        failure: ApplicationFailure.nonRetryable(
          `Kafka Connect ${method} ${path} answered HTTP ${res.status}: the REST API refused rekey's credential (kafkaConnect.auth.secret, REKEY_CONNECT_AUTH_SECRET)`,
          'ConnectUnauthorized',
        ),
        transient: false,
      };
    return {
      failure: ApplicationFailure.retryable(failure, 'ConnectRequestFailed'),
      transient: res.status >= 500 || res.status === 409,
    };
  }

  /**
   * A Connect REST call. Unreachable, 409 or 5xx (a worker restarting, a rebalance, a proxy in
   * between) is retried here for up to 25 s, heartbeating, before the activity fails: the fault
   * matrix showed a 20 s Connect hiccup during the switch exhaust the retries of a wait
   * (3 attempts) and roll an otherwise healthy rotation back. Every call rekey makes is safe to
   * repeat (reads, pause/resume, restarts).
   */
  async function call(method: string, path: string, expect: number[] = [200, 202, 204]): Promise<Response> {
    const deadline = Date.now() + CONNECT_TRANSIENT_MS;
    for (let delay = 1000; ; delay = Math.min(delay * 2, 5000)) {
      const outcome = await request(method, path, expect);
      if (outcome instanceof Response) return outcome;
      if (!outcome.transient || Date.now() + delay > deadline) throw outcome.failure;
      beat(`${outcome.failure.message.slice(0, 120)}; retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  async function connectorStatus(input: { connector: string }): Promise<ConnectorStatus> {
    const res = await call('GET', `/connectors/${encodeURIComponent(input.connector)}/status`);
    const body = (await res.json()) as {
      name: string;
      connector: { state: string };
      tasks: Array<{ id: number; state: string; trace?: string }>;
    };
    return {
      connector: body.name,
      state: body.connector.state,
      // only the first line of a trace: the rest can be long and may quote configuration
      tasks: body.tasks.map((t) => ({
        id: t.id,
        state: t.state,
        ...(t.trace ? { trace: t.trace.split('\n')[0] } : {}),
      })),
    };
  }

  /**
   * Which slot and credential the connector's configuration reads. Only config-provider
   * references (`${dir:…}`, `${secrets:…}`) are returned: a literal password is reported
   * as such, never copied.
   */
  async function connectorBinding(input: {
    connector: string;
  }): Promise<{ slot: string | null; credentialRefs: string[] }> {
    const res = await call('GET', `/connectors/${encodeURIComponent(input.connector)}/config`);
    const config = (await res.json()) as Record<string, string>;
    const refs = ['database.user', 'database.password']
      .map((k) => config[k])
      .filter((v): v is string => typeof v === 'string');
    return {
      slot: config['slot.name'] ?? null,
      credentialRefs: refs.map((v) => (/^\$\{[a-z]+:[^}]+\}$/.test(v) ? v : '(literal value, not shown)')),
    };
  }

  /** The topics a sink connector consumes: its `topics` list and `topics.regex` (Connect takes one or the other). */
  async function connectorTopics(input: { connector: string }): Promise<{ topics: string[]; regex: string | null }> {
    const res = await call('GET', `/connectors/${encodeURIComponent(input.connector)}/config`);
    const config = (await res.json()) as Record<string, string>;
    const topics = (config['topics'] ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    return { topics, regex: config['topics.regex']?.trim() || null };
  }

  /** Every connector's config, as Connect returns it (config-provider references unresolved). */
  async function connectorConfigs(): Promise<Array<[string, Record<string, string>]>> {
    const res = await call('GET', '/connectors?expand=info');
    const all = (await res.json()) as Record<string, { info: { config: Record<string, string> } }>;
    return Object.entries(all).map(([name, c]) => [name, c.info.config]);
  }

  /** `${provider:…<secret>:<key>}` for a key matching `key` (a regex source). */
  const referenceTo = (secret: string, key: string) =>
    new RegExp(`\\$\\{[a-zA-Z0-9_-]+:[^}]*[/:]${escapeRe(secret)}:(?:${key})\\}`);

  /**
   * The connectors that read `secret` through a config provider (Connect keeps the `${provider:…}`
   * text in the config it returns; a task restart re-reads it): every one of them must move
   * when the secret changes, not only the connector a rotation names.
   */
  async function secretReaders(input: { secret: string }): Promise<{ readers: string[] }> {
    const reference = referenceTo(input.secret, '[^}]+');
    return {
      readers: (await connectorConfigs())
        .filter(([, config]) => Object.values(config).some((v) => reference.test(v)))
        .map(([name]) => name)
        .sort(),
    };
  }

  /**
   * The connectors that authenticate to the Schema Registry as `account`: a config value holds a
   * config-provider reference to `<secret>`'s `<account>-user` or `-password` key. `literal`:
   * connectors whose registry credentials are written into their config as the account's current
   * user, which a rotation cannot move.
   */
  async function registryAccountClients(input: {
    secret: string;
    account: string;
    currentUser: string;
  }): Promise<{ clients: string[]; literal: string[] }> {
    const reference = referenceTo(input.secret, `${escapeRe(input.account)}-(?:user|password)`);
    const authKey = /(\.auth\.username|basic\.auth\.user\.info)$/;
    const clients: string[] = [];
    const literal: string[] = [];
    for (const [name, config] of await connectorConfigs()) {
      const entries = Object.entries(config);
      if (entries.some(([, v]) => reference.test(v))) clients.push(name);
      else if (entries.some(([k, v]) => authKey.test(k) && !v.includes('${') && v.split(':')[0] === input.currentUser))
        literal.push(name);
    }
    return { clients: clients.sort(), literal: literal.sort() };
  }

  /** Polls until the connector and all its tasks are in `state`; a FAILED task ends the wait early. */
  async function waitForState(
    connector: string,
    state: 'RUNNING' | 'PAUSED',
    timeoutMs: number,
  ): Promise<ConnectorStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: ConnectorStatus | undefined;
    while (Date.now() < deadline) {
      try {
        last = await connectorStatus({ connector });
        const failed = last.tasks.find((t) => t.state === 'FAILED');
        if (failed && state === 'RUNNING') {
          throw ApplicationFailure.retryable(
            `connector ${connector} task ${failed.id} FAILED: ${failed.trace ?? 'no trace'}`,
            'ConnectorTaskFailed',
          );
        }
        if (last.state === state && last.tasks.length > 0 && last.tasks.every((t) => t.state === state)) return last;
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'ConnectorTaskFailed') throw err;
        // worker restarting or rebalancing: keep polling
      }
      heartbeat({ waitingFor: state, seen: last?.state });
      // short poll: the connector is paused (no events flow) while we wait on it
      await sleep(100);
    }
    throw ApplicationFailure.retryable(
      `connector ${connector} not ${state} after ${timeoutMs / 1000} s (connector ${last?.state ?? 'unknown'}, tasks ${last?.tasks.map((t) => t.state).join(',') || 'none'})`,
      'ConnectorStateTimeout',
    );
  }

  async function pauseConnector(input: { connector: string; timeoutMs?: number }): Promise<ConnectorStatus> {
    await call('PUT', `/connectors/${encodeURIComponent(input.connector)}/pause`);
    return waitForState(input.connector, 'PAUSED', input.timeoutMs ?? 60_000);
  }

  async function resumeConnector(input: { connector: string; timeoutMs?: number }): Promise<ConnectorStatus> {
    await call('PUT', `/connectors/${encodeURIComponent(input.connector)}/resume`);
    return waitForState(input.connector, 'RUNNING', input.timeoutMs ?? 120_000);
  }

  /**
   * Restarts the connector and its tasks so config-provider references (`${dir:…}`)
   * are resolved again. A paused connector stays paused; its tasks pick the new
   * values up when resumed.
   */
  async function restartConnector(input: { connector: string; tasksOnly?: boolean }): Promise<void> {
    const base = `/connectors/${encodeURIComponent(input.connector)}`;
    if (!input.tasksOnly) {
      await call('POST', `${base}/restart?includeTasks=true&onlyFailed=false`);
      return;
    }
    // Task configs hold the `${dir:…}` references (Connect reverse-transforms them before
    // storing), so restarting each task re-reads the secret. Restarting the connector too
    // regenerates task configs and restarts the tasks a second time: measured slower.
    const status = await connectorStatus({ connector: input.connector });
    for (const t of status.tasks) await call('POST', `${base}/tasks/${t.id}/restart`);
  }

  /**
   * After a Schema Registry restart: a task whose converter needed the registry while it was
   * down (a cold schema cache) has FAILED; the registry is back, so restart just the failed
   * tasks (nothing is lost: a source's uncommitted batch is read again, a sink's offsets were
   * never committed past it) and wait until they run again. Heals `connector` and every other
   * connector on this Connect cluster whose converter reads the registry (e.g. the S3 sink):
   * they are clients of the same registry and met the same outage.
   */
  async function restartFailedTasks(input: {
    connector: string;
    timeoutMs?: number;
    settleMs?: number;
  }): Promise<{ restarted: number[]; alsoHealed?: string[] }> {
    // a lookup that was in flight during the outage may fail only after the registry is back:
    // keep watching for a while (15 s) and heal what fails meanwhile
    const settleUntil = Date.now() + (input.settleMs ?? 15_000);
    const restarted = new Set<number>();
    const alsoHealed = new Set<string>();
    const clients = (await registryClients()).filter((c) => c !== input.connector);
    for (;;) {
      for (const id of await healConnector(input.connector, input.timeoutMs)) restarted.add(id);
      for (const other of clients) {
        const status = await connectorStatus({ connector: other }).catch(() => undefined);
        if (!status || !(status.state === 'FAILED' || status.tasks.some((t) => t.state === 'FAILED'))) continue;
        await healConnector(other, input.timeoutMs);
        alsoHealed.add(other);
      }
      if (Date.now() >= settleUntil) break;
      heartbeat('watching for tasks that fail after the registry restart');
      await sleep(1000);
    }
    return { restarted: [...restarted], ...(alsoHealed.size ? { alsoHealed: [...alsoHealed] } : {}) };
  }

  async function healConnector(connector: string, timeoutMs?: number): Promise<number[]> {
    const status = await connectorStatus({ connector });
    const failed = status.tasks.filter((t) => t.state === 'FAILED').map((t) => t.id);
    if (failed.length === 0 && status.state !== 'FAILED') return [];
    heartbeat(`restarting failed tasks of ${connector}`);
    await call('POST', `/connectors/${encodeURIComponent(connector)}/restart?includeTasks=true&onlyFailed=true`);
    await waitForState(connector, 'RUNNING', timeoutMs ?? 120_000);
    return failed;
  }

  /** Connectors whose key or value converter talks to an Apicurio registry. */
  async function registryClients(): Promise<string[]> {
    const res = await call('GET', '/connectors?expand=info');
    const all = (await res.json()) as Record<string, { info: { config: Record<string, string> } }>;
    return Object.entries(all)
      .filter(([, c]) => Object.keys(c.info.config).some((k) => k.endsWith('.apicurio.registry.url')))
      .map(([name]) => name);
  }

  /**
   * Waits until the connector and every task are RUNNING. A FAILED task fails the wait, unless
   * `restartFailed` allows restarting failed tasks that many times: a sink that met a key S3
   * did not accept yet fails its task and never retries by itself.
   */
  async function waitConnectorRunning(input: {
    connector: string;
    timeoutMs?: number;
    restartFailed?: number;
  }): Promise<ConnectorStatus> {
    let restartsLeft = input.restartFailed ?? 0;
    for (;;) {
      try {
        return await waitForState(input.connector, 'RUNNING', input.timeoutMs ?? 120_000);
      } catch (err) {
        if (!(restartsLeft > 0 && err instanceof ApplicationFailure && err.type === 'ConnectorTaskFailed')) throw err;
        restartsLeft--;
        heartbeat(`restarting the failed tasks of ${input.connector}: ${err.message.slice(0, 200)}`);
        await call(
          'POST',
          `/connectors/${encodeURIComponent(input.connector)}/restart?includeTasks=true&onlyFailed=true`,
        );
        await sleep(1000);
      }
    }
  }

  /**
   * Restarts the Connect worker itself (the runbook's pod delete, a rollout restart on
   * Kubernetes), then waits until the connector is assigned again: connector and every task
   * in one state, RUNNING or PAUSED (restart-worker pauses it first). A FAILED task fails the wait.
   */
  async function restartConnectWorker(input: {
    connector: string;
    timeoutMs?: number;
    restartedAt?: string;
  }): Promise<void> {
    if (!deps.worker)
      throw ApplicationFailure.nonRetryable(
        'restart-worker strategy is not available: this worker has no Kafka Connect worker runtime configured',
        'NoWorkerRuntime',
      );
    await deps.worker.restart((detail) => heartbeat(detail), input.restartedAt);
    const timeoutMs = input.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    let seen = 'REST API not answering';
    while (Date.now() < deadline) {
      const s = await connectorStatus({ connector: input.connector }).catch(() => undefined);
      if (s) {
        seen = `connector ${s.state}, tasks ${s.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'none'}`;
        const failed = s.tasks.find((t) => t.state === 'FAILED');
        if (failed)
          throw ApplicationFailure.retryable(
            `after the worker restart task ${failed.id} FAILED: ${failed.trace ?? ''}`,
            'TaskFailed',
          );
        if (['RUNNING', 'PAUSED'].includes(s.state) && s.tasks.length > 0 && s.tasks.every((t) => t.state === s.state))
          return;
      }
      heartbeat(`waiting for the connector after the worker restart: ${seen}`);
      await sleep(1000);
    }
    throw ApplicationFailure.retryable(
      `Kafka Connect worker not ready ${timeoutMs / 1000} s after restart (${seen})`,
      'WorkerNotReady',
    );
  }

  return {
    connectorStatus,
    connectorBinding,
    connectorTopics,
    secretReaders,
    registryAccountClients,
    pauseConnector,
    resumeConnector,
    restartConnector,
    restartFailedTasks,
    waitConnectorRunning,
    restartConnectWorker,
  };
}
