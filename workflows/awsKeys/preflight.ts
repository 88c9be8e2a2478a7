import { check, type CheckResult } from '../rotation/preflight.js';

export type { CheckResult };

/** Facts gathered by read-only activities before an access-key rotation changes anything. */
export interface AwsPreflightFacts {
  user: string;
  /** The user's access keys, oldest first (IAM allows two). */
  keys: Array<{ accessKeyId: string; status: string; createDate: string }>;
  /** The key id the secret holds: the key the sink uses now. */
  secretKey: string;
  connector: { state: string; tasks: Array<{ id: number; state: string }> };
  /** An object the sink wrote recently, or why none was found (not looked for when the canary proves the switch). */
  recentObject?: { key: string; lastModified: string } | { error: string };
  /** The canary topic and what the sink consumes (runs whose plan predates the canary have none). */
  canary?: { topic: string; sinkTopics: { topics: string[]; regex: string | null } };
  deleteInactiveKey: boolean;
}

export interface AwsPreflightLimits {
  secret: string;
  bucket: string;
  prefix: string;
  /** How far back an object counts as recent. */
  windowMinutes: number;
}

/** Checks `force` cannot skip: going on would hit IAM's two-key limit, or rotate a key the secret does not hold. */
export const HARD_CHECKS = ['key limit', 'secret holds an active key of the user'];

/**
 * The key deleted before the second one is created: only when the user has two keys, the other
 * one (not the secret's) is Inactive, and the input asks for it. An Active second key never is.
 */
export function inactiveKeyToDelete(
  f: Pick<AwsPreflightFacts, 'keys' | 'secretKey' | 'deleteInactiveKey'>,
): string | null {
  if (!f.deleteInactiveKey || f.keys.length !== 2) return null;
  const other = f.keys.find((k) => k.accessKeyId !== f.secretKey);
  return other && other.status === 'Inactive' && f.keys.some((k) => k.accessKeyId === f.secretKey)
    ? other.accessKeyId
    : null;
}

/** Whether the sink consumes `topic`: listed in `topics`, or matched by `topics.regex` (a Java regex; the common subset reads the same in JavaScript). */
export function sinkArchives(topic: string, sink: { topics: string[]; regex: string | null }): boolean {
  if (sink.topics.includes(topic)) return true;
  try {
    return sink.regex !== null && new RegExp(`^(?:${sink.regex})$`).test(topic);
  } catch {
    return false;
  }
}

/** Every check of the procedure's pre-flight, each with what it saw and what it needed. */
export function evaluateAwsPreflight(f: AwsPreflightFacts, l: AwsPreflightLimits): CheckResult[] {
  const mine = f.keys.find((k) => k.accessKeyId === f.secretKey);
  const object = f.recentObject && 'key' in f.recentObject ? f.recentObject : null;
  const canary = f.canary && sinkArchives(f.canary.topic, f.canary.sinkTopics);
  return [
    check(
      'key limit',
      f.keys.length < 2 || inactiveKeyToDelete(f) !== null,
      `${f.keys.length} key(s)${f.keys.length ? ': ' : ''}${f.keys.map((k) => `${k.accessKeyId} (${k.status}, created ${k.createDate})`).join(', ')}`,
      `fewer than two keys for ${f.user} (IAM allows two); with two, the other one Inactive and deleteInactiveKey set (it is deleted first)`,
    ),
    check(
      'secret holds an active key of the user',
      mine?.status === 'Active',
      mine ? `${f.secretKey}: ${mine.status}` : `${f.secretKey}: not a key of ${f.user}`,
      `${l.secret}'s access-key-id is one of ${f.user}'s Active keys`,
    ),
    check('connector running', f.connector.state === 'RUNNING', f.connector.state, 'RUNNING'),
    check(
      'tasks running',
      f.connector.tasks.length > 0 && f.connector.tasks.every((t) => t.state === 'RUNNING'),
      f.connector.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'no tasks',
      'every task RUNNING',
    ),
    ...(f.canary
      ? [
          check(
            'sink archives the canary topic',
            canary === true,
            `topics=${f.canary.sinkTopics.topics.join(',') || '(none)'}${f.canary.sinkTopics.regex ? ` topics.regex=${f.canary.sinkTopics.regex}` : ''}`,
            `${f.canary.topic} among the sink's topics: a canary row written to public.rekey_canary is then found under s3://${l.bucket}/${l.prefix}${f.canary.topic}/, proving the switch without waiting for traffic`,
          ),
        ]
      : []),
    ...(canary
      ? []
      : [
          check(
            'objects being written',
            object !== null,
            object
              ? `${object.key} at ${object.lastModified}`
              : ((f.recentObject as { error: string } | undefined)?.error ?? 'not looked for'),
            `an object under s3://${l.bucket}/${l.prefix} written in the last ${l.windowMinutes} min (the switch is proven by a fresh one)`,
          ),
        ]),
  ];
}
