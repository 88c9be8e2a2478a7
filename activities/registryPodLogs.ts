import { ApplicationFailure } from '@temporalio/activity';
import type {
  ConfigurationOptions,
  CoreV1Api,
  KubeConfig,
  RequestContext,
  ResponseContext,
  V1ContainerStatus,
  V1Pod,
} from '@kubernetes/client-node';
import { isKubernetesApiError, kubernetesClient } from './kubernetesClient.js';
import type { PodLogSource } from './registryAccessLogSource.js';

/** The registry's stdout since a time: its access-log lines (the API's timestamp removed) and what limited the read. */
export interface PodLogLines {
  lines: string[];
  /** A pod's log that reached the byte cap: only its first `maxBytes` after the mark were read. */
  capped: string[];
}

/** The RFC3339(Nano) timestamp the API puts before each line with timestamps=true (the node's zone, hence the offset form). */
const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch, so a line's nanosecond stamp and the mark's milliseconds compare exactly; undefined when not a timestamp. */
export function stampNanos(stamp: string): bigint | undefined {
  const m = STAMP.exec(stamp);
  const seconds = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * The log endpoint's `sinceTime` is not a parameter of the generated client (the API's OpenAPI
 * document omits it), so it is added to the request's query by a middleware: the client still
 * does the authentication, TLS and error mapping. The API reads it at second granularity, hence
 * the whole second at or before the mark; the lines of that second before the mark are dropped
 * by their own timestamps.
 */
function sinceTime(markMs: number): ConfigurationOptions {
  const { Observable } = kubernetesClient();
  const since = new Date(Math.floor(markMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const pre = (ctx: RequestContext) => {
    ctx.setQueryParam('sinceTime', since);
    return new Observable(Promise.resolve(ctx));
  };
  return {
    middleware: [{ pre, post: (res: ResponseContext) => new Observable(Promise.resolve(res)) }],
    middlewareMergeStrategy: 'append',
  };
}

/** The container whose log is read, and which of its instances ran after the mark: the current one, and the one before it when it ended after the mark. */
function instances(
  pod: V1Pod,
  wanted: string | undefined,
  markMs: number,
): { container: string; reads: boolean[] } | undefined {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const container = wanted ?? names[0];
  // a misspelt container would otherwise skip every pod, and no lines would read as "nobody used the old user"
  if (wanted && !names.includes(wanted))
    throw ApplicationFailure.nonRetryable(
      `pod ${pod.metadata?.name} has no container ${wanted} (it has ${names.join(', ')}): check REKEY_REGISTRY_ACCESS_LOG`,
      'AccessLogSource',
    );
  const status: V1ContainerStatus | undefined = pod.status?.containerStatuses?.find((s) => s.name === container);
  if (!container || !status) return undefined; // not started yet: no log (the API answers 400)
  const reads: boolean[] = [];
  // a terminated status without an id means the next instance never started: the API would serve `previous` again
  if (status.state?.running || status.state?.terminated?.containerID) reads.push(false);
  const ended = status.lastState?.terminated?.finishedAt;
  // the kubelet keeps one earlier instance: a restart inside the window keeps its lines, a second one loses the oldest
  if (ended && new Date(ended).getTime() > markMs) reads.push(true);
  return { container, reads };
}

/** A Kubernetes API failure of the access-log read, saying what the worker's ServiceAccount needs. */
function failure(err: unknown, verb: string, what: string, namespace: string): Error {
  const grant = `the worker's ServiceAccount needs "list" on pods and "get" on pods/log in namespace ${namespace} (deploy/rbac.yaml)`;
  const context = `${verb} ${what} in namespace ${namespace} for the registry's access log (REKEY_REGISTRY_ACCESS_LOG=pods:…)`;
  // a network error's message names the URL, never the request's headers (the token)
  if (!isKubernetesApiError(err))
    return ApplicationFailure.retryable(`${context} failed: ${(err as Error).message}`, 'KubernetesApi');
  if (err.code === 403)
    return ApplicationFailure.nonRetryable(`forbidden: cannot ${context}: ${grant}`, 'KubernetesAccess');
  if (err.code === 401)
    return ApplicationFailure.nonRetryable(
      `unauthorized: the worker's Kubernetes credentials were refused trying to ${context}`,
      'KubernetesAccess',
    );
  // a pod replaced since it was listed (its log went with it): the next attempt lists the pods again
  if (err.code === 404)
    return ApplicationFailure.retryable(
      `cannot ${context}: not found (the pod replaced since it was listed?); ${grant}`,
      'KubernetesApi',
    );
  // the API's Status message (never a credential) says what else went wrong, e.g. a container that is not running
  const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body ?? '');
  const status = /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(body)?.[1]?.slice(0, 300);
  return ApplicationFailure.retryable(
    `${context} failed: HTTP ${err.code}${status ? `: ${status}` : ''}`,
    'KubernetesApi',
  );
}

/** Lines strictly after the mark, without their timestamp; a line cut by the byte cap (no newline) is dropped. */
function linesAfter(text: string, after: bigint): string[] {
  const lines = text.split('\n');
  lines.pop(); // '' after the last newline, or a line limitBytes cut short
  const out: string[] = [];
  for (const line of lines) {
    const space = line.indexOf(' ');
    const at = space > 0 ? stampNanos(line.slice(0, space)) : undefined;
    if (at !== undefined && at > after) out.push(line.slice(space + 1));
  }
  return out;
}

/**
 * The registry's access log as its pods' stdout, read through the Kubernetes API: the pods the
 * selector matches (`list pods`), and each one's log since the mark (`get pods/log`,
 * timestamps=true, sinceTime, limitBytes). The pods are read one after another: each log can be
 * up to `maxBytes`, and the worker's memory budget is small.
 */
export function podLogReader(source: PodLogSource, kubeConfig: KubeConfig | undefined, maxBytes: number) {
  const { namespace, selector } = source;
  let client: CoreV1Api | undefined;
  const api = () => {
    if (!kubeConfig)
      throw ApplicationFailure.nonRetryable(
        'REKEY_REGISTRY_ACCESS_LOG=pods:… needs the Kubernetes API, and this worker has none configured (set REKEY_K8S_NAMESPACE and KUBECONFIG, or run in-cluster)',
        'NoKubernetes',
      );
    return (client ??= kubeConfig.makeApiClient(kubernetesClient().CoreV1Api));
  };
  const call = async <T>(verb: string, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw failure(err, verb, what, namespace);
    }
  };

  async function since(markIso: string): Promise<PodLogLines> {
    const after = stampNanos(markIso);
    if (after === undefined)
      throw ApplicationFailure.nonRetryable(
        `the access-log mark's time ${markIso} is not an RFC 3339 time`,
        'AccessLogMark',
      );
    const markMs = Number(after / 1_000_000n);
    const core = api(); // outside `call`: a missing cluster is a setting to make, not an API error to retry
    const pods =
      (
        await call('list', `pods (labelSelector ${selector})`, () =>
          core.listNamespacedPod({ namespace, labelSelector: selector }),
        )
      ).items ?? [];
    // no pod would prove nothing: a wrong selector must not read as "nobody used the old user"
    if (pods.length === 0)
      throw ApplicationFailure.nonRetryable(
        `no pod in namespace ${namespace} matches ${selector}: check REKEY_REGISTRY_ACCESS_LOG`,
        'AccessLogSource',
      );
    const result: PodLogLines = { lines: [], capped: [] };
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      const which = instances(pod, source.container, markMs);
      for (const previous of which?.reads ?? []) {
        const request = {
          name,
          namespace,
          container: which!.container,
          timestamps: true,
          limitBytes: maxBytes,
          previous: previous || undefined,
        };
        const text = await call('get', `pods/${name}/log`, () => core.readNamespacedPodLog(request, sinceTime(markMs)));
        if (Buffer.byteLength(text) >= maxBytes) result.capped.push(`${name}${previous ? ' (previous)' : ''}`);
        result.lines.push(...linesAfter(text, after));
      }
    }
    return result;
  }

  return { since };
}
