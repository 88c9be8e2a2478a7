import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { isKubernetesApiError, kubernetesClient, mergePatch } from '../kubernetesClient.js';
import {
  fingerprint,
  SecretConflictError,
  toBytes,
  toText,
  type SecretBytes,
  type SecretData,
  type SecretInfo,
  type SecretStore,
  type StoredSecret,
  type WriteOptions,
} from './store.js';

const ANNOTATION_PREFIX = 'rekey.dev/';

/** A Kubernetes API failure explained: which object, which verb, what to grant. */
export class KubernetesAccessError extends Error {
  override name = 'KubernetesAccessError';
}

export function loadKubeConfig(opts: { kubeconfig?: string }): KubeConfig {
  const kc = new (kubernetesClient().KubeConfig)();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromCluster();
  } catch (err) {
    throw new KubernetesAccessError(
      `cannot load Kubernetes config ${opts.kubeconfig ?? '(in-cluster service account)'}: ${(err as Error).message}`,
    );
  }
  if (!kc.getCurrentCluster())
    throw new KubernetesAccessError(`kubeconfig ${opts.kubeconfig ?? '(in-cluster)'} has no current cluster`);
  return kc;
}

export function explain(err: unknown, verb: string, what: string, namespace: string): Error {
  if (isKubernetesApiError(err)) {
    if (err.code === 403)
      return new KubernetesAccessError(
        `forbidden: cannot ${verb} ${what} in namespace ${namespace}; grant verb "${verb}" on that resource to the worker's ServiceAccount`,
      );
    if (err.code === 404) return new KubernetesAccessError(`${what} not found in namespace ${namespace}`);
    if (err.code === 401)
      return new KubernetesAccessError(
        `unauthorized: the credentials in the kubeconfig were refused while trying to ${verb} ${what}`,
      );
    return new KubernetesAccessError(`${verb} ${what} in namespace ${namespace} failed: HTTP ${err.code}`);
  }
  const e = err as Error & { code?: string };
  return new KubernetesAccessError(
    `${verb} ${what} in namespace ${namespace} failed: ${e.code ?? ''} ${e.message}`.trim(),
  );
}

/**
 * Kubernetes Secrets as the store: `<name>`, `<name>-pending`, `<name>-backup` are sibling
 * Secrets. Every write is a merge patch that carries the resourceVersion it was based on,
 * so a concurrent change is refused by the API server, never silently overwritten.
 */
export class KubernetesSecretStore implements SecretStore {
  readonly kind = 'kubernetes';
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(kubernetesClient().CoreV1Api);
  }

  private info(name: string, secret: V1Secret, data: SecretBytes): SecretInfo {
    const annotations = Object.fromEntries(
      Object.entries(secret.metadata?.annotations ?? {})
        .filter(([k]) => k.startsWith(ANNOTATION_PREFIX))
        .map(([k, v]) => [k.slice(ANNOTATION_PREFIX.length), v]),
    );
    return {
      name,
      keys: Object.keys(data).sort(),
      fingerprint: fingerprint(data),
      version: secret.metadata?.resourceVersion ?? '',
      annotations,
    };
  }

  async read(name: string): Promise<StoredSecret | undefined> {
    let secret: V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (err) {
      if (isKubernetesApiError(err) && err.code === 404) return undefined;
      throw explain(err, 'get', `secrets/${name}`, this.namespace);
    }
    // values are bytes (base64 on the wire): kept as bytes, so binary keys round-trip exactly
    const bytes: SecretBytes = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) bytes[k] = Buffer.from(v, 'base64');
    return { data: toText(bytes), bytes, info: this.info(name, secret, bytes) };
  }

  async write(name: string, values: SecretData | SecretBytes, options: WriteOptions = {}): Promise<SecretInfo> {
    const current = await this.read(name);
    const given = toBytes(values);
    const data: SecretBytes = options.mergeKeys ? { ...(current?.bytes ?? {}), ...given } : given;
    if (options.expectedVersion !== undefined) {
      const actual = current?.info.version ?? null;
      if (actual !== options.expectedVersion) throw new SecretConflictError(name, options.expectedVersion, actual);
    }
    // a merge patch carries only the keys given; with mergeKeys the others are not even re-sent
    const encoded = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, v.toString('base64')]));
    const annotations = Object.fromEntries(
      Object.entries({ ...(options.annotations ?? {}), fingerprint: fingerprint(data) }).map(([k, v]) => [
        `${ANNOTATION_PREFIX}${k}`,
        v,
      ]),
    );
    let written: V1Secret;
    if (!current) {
      try {
        written = await this.core.createNamespacedSecret({
          namespace: this.namespace,
          body: {
            metadata: { name, annotations, labels: { 'app.kubernetes.io/managed-by': 'rekey' } },
            type: 'Opaque',
            data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('base64')])),
          },
        });
      } catch (err) {
        if (isKubernetesApiError(err) && err.code === 409)
          throw new SecretConflictError(name, null, '(created concurrently)');
        throw explain(err, 'create', `secrets/${name}`, this.namespace);
      }
    } else {
      // keys that disappear are set to null (merge-patch deletion); old rekey annotations likewise
      const removedKeys = Object.fromEntries(
        Object.keys(current.bytes)
          .filter((k) => !(k in data))
          .map((k) => [k, null]),
      );
      const removedNotes = Object.fromEntries(
        Object.keys(current.info.annotations).map((k) => [`${ANNOTATION_PREFIX}${k}`, null]),
      );
      try {
        written = await this.core.patchNamespacedSecret(
          {
            name,
            namespace: this.namespace,
            body: {
              metadata: { resourceVersion: current.info.version, annotations: { ...removedNotes, ...annotations } },
              data: { ...removedKeys, ...encoded },
            },
          },
          mergePatch(),
        );
      } catch (err) {
        if (isKubernetesApiError(err) && err.code === 409)
          throw new SecretConflictError(name, current.info.version, '(changed concurrently)');
        throw explain(err, 'patch', `secrets/${name}`, this.namespace);
      }
    }
    return this.info(name, written, data);
  }

  async remove(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ name, namespace: this.namespace });
    } catch (err) {
      if (isKubernetesApiError(err) && err.code === 404) return;
      throw explain(err, 'delete', `secrets/${name}`, this.namespace);
    }
  }
}
