/**
 * The two registry APIs rekey speaks. Apicurio (the embedded stack's) serves its own v2 API
 * and a Confluent-compatible one under `/apis/ccompat/v7`; a Confluent Schema Registry serves
 * only the latter, at its root. The configured URL is the server's root either way
 * (REKEY_REGISTRY_URL), and REKEY_REGISTRY_API names the flavour.
 */
export const registryFlavours = ['apicurio', 'confluent'] as const;
export type RegistryFlavour = (typeof registryFlavours)[number];

export interface RegistryApi {
  flavour: RegistryFlavour;
  /** A read every account may do: its status tells an accepted user from a refused one. */
  authProbe: string;
  subjects: string;
  /** The global compatibility level, or a subject's (falling back to the global one). */
  config: (subject?: string) => string;
  latest: (subject: string) => string;
  /** What the server says it is: Apicurio's system info (name, version); Confluent has no such call, its global config stands in (200 when up). */
  info: string;
}

const compatible = (root: string) => ({
  subjects: `${root}/subjects`,
  config: (subject?: string) =>
    subject ? `${root}/config/${encodeURIComponent(subject)}?defaultToGlobal=true` : `${root}/config`,
  latest: (subject: string) => `${root}/subjects/${encodeURIComponent(subject)}/versions/latest`,
});

export function registryApi(flavour: RegistryFlavour = 'apicurio'): RegistryApi {
  if (flavour === 'confluent') return { flavour, authProbe: '/subjects', info: '/config', ...compatible('') };
  return {
    flavour,
    authProbe: '/apis/registry/v2/search/artifacts?limit=1',
    info: '/apis/registry/v2/system/info',
    ...compatible('/apis/ccompat/v7'),
  };
}

/**
 * What an answer says about the credentials that made it. Only 401 and 403 are refusals:
 * anything else came past authentication (a 404 of a path this server does not have, too),
 * except a 5xx or no answer, which says nothing either way.
 */
export function authOutcome(status: number): 'accepted' | 'refused' | 'no answer' {
  if (status === 401 || status === 403) return 'refused';
  if (status === 0 || status >= 500) return 'no answer';
  return 'accepted';
}
