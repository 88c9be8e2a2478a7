import { labelSelectorPattern } from './kubernetesClient.js';

/**
 * REKEY_REGISTRY_ACCESS_LOG's forms. A module of its own, without runtime dependencies, because
 * the worker's configuration (loaded by the CLI and the codec server too) validates with it.
 */

/** `pods:<namespace>/<label selector>[:<container>]`, split. */
export interface PodLogSource {
  namespace: string;
  selector: string;
  /** Absent: each pod's first container (the registry; a sidecar injected in front of it needs the name). */
  container?: string;
}

export type AccessLogSource = { kind: 'file'; path: string } | ({ kind: 'pods' } & PodLogSource);

/** A namespace or container name (RFC 1123 label). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PODS_FORM = 'pods:<namespace>/<label selector>[:<container>] (e.g. pods:data-ingestion/app=schema-registry)';

/** REKEY_REGISTRY_ACCESS_LOG parsed; a string is why it is not valid (the configuration names its field). */
export function parseAccessLogSource(value: string): AccessLogSource | string {
  if (value.startsWith('file:'))
    return /^file:\/.+/.test(value)
      ? { kind: 'file', path: value.slice('file:'.length) }
      : 'must be file:<absolute path>';
  if (!value.startsWith('pods:')) return `must be file:<absolute path> or ${PODS_FORM}`;
  const rest = value.slice('pods:'.length);
  const slash = rest.indexOf('/');
  const namespace = slash < 0 ? '' : rest.slice(0, slash);
  if (!DNS_LABEL.test(namespace)) return `needs a namespace: ${PODS_FORM}`;
  // a label selector never contains ':', so a ':' after it starts the container name
  const [selector = '', container, ...extra] = rest.slice(slash + 1).split(':');
  if (!selector) return `needs a label selector after the namespace: ${PODS_FORM}`;
  if (!labelSelectorPattern.test(selector))
    return `${selector} must be a label selector such as app=schema-registry: ${PODS_FORM}`;
  if (container !== undefined && (!DNS_LABEL.test(container) || extra.length))
    return `needs a container name after ':' (or none): ${PODS_FORM}`;
  return { kind: 'pods', namespace, selector, ...(container ? { container } : {}) };
}
