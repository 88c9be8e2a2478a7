import { check, type CheckResult } from '../rotation/preflight.js';

export type { CheckResult };

/** Facts gathered by read-only activities before a Schema Registry rotation changes anything. */
export interface RegistryPreflightFacts {
  /** HTTP status the registry answered the account's current user with (200 accepted, 401 refused, 0 unreachable). */
  currentAuth: RegistryAuthAnswer;
  /** Subjects with the prefix and their compatibility level; null when they could not be read (the current user was refused). */
  subjects: Array<{ subject: string; level: string }> | null;
  connector: { state: string; tasks: Array<{ id: number; state: string }> };
  /** Users of the account the secret holds besides the current one: a rotation half-done (by hand, or by a run that was abandoned). */
  account: { user: string; next: string | null; previous: string | null };
  /** The connectors whose converter authenticates as the account (from Connect's configs); absent in runs from before the check. */
  clients?: { clients: string[]; literal: string[] };
}

export interface RegistryPreflightLimits {
  account: string;
  secret: string;
  subjectPrefix: string;
  /** The subject the verification looks up with the new credential. */
  lookupSubject: string;
}

/** Levels under which a consumer with the newest schema can still read older data: what the runbook asks for. */
export const ACCEPTED_COMPATIBILITY = ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;

/** The registry's answer to an account's user: `accepted` when it came past authentication. */
export interface RegistryAuthAnswer {
  user: string;
  status: number;
  /** Absent in activity results recorded before the flag existed: those were 200 or not. */
  accepted?: boolean;
}

/**
 * Accepted: any answer but 401/403 (a Confluent registry's 404 too), as the activity decides.
 * Replay-safe: a result recorded before `accepted` existed is judged as it was then (200).
 */
export const authAccepted = (a: RegistryAuthAnswer) => a.accepted ?? a.status === 200;

/** Every check of the procedure's pre-flight, each with what it saw and what it needed. */
export function evaluateRegistryPreflight(f: RegistryPreflightFacts, l: RegistryPreflightLimits): CheckResult[] {
  const status = f.currentAuth.status;
  const subjects = f.subjects ?? [];
  const weak = subjects.filter((s) => !(ACCEPTED_COMPATIBILITY as readonly string[]).includes(s.level.toUpperCase()));
  return [
    check(
      'registry accepts the current user',
      authAccepted(f.currentAuth),
      status === 0 ? `${f.currentAuth.user}: registry unreachable` : `${f.currentAuth.user}: HTTP ${status}`,
      `accepted (HTTP 200, or any answer but 401/403/5xx) for ${l.account}'s user in ${l.secret}`,
    ),
    check(
      'subjects registered',
      f.subjects !== null && subjects.length > 0,
      f.subjects === null
        ? 'not readable (the current user was refused)'
        : `${subjects.length} subject(s) with prefix "${l.subjectPrefix}"`,
      `at least one subject with prefix "${l.subjectPrefix}" (the connector registers them)`,
    ),
    check(
      'lookup subject registered',
      subjects.some((s) => s.subject === l.lookupSubject),
      subjects.some((s) => s.subject === l.lookupSubject) ? 'present' : 'absent',
      `${l.lookupSubject} present (the switch is proven by looking it up with the new user)`,
    ),
    check(
      'compatibility',
      f.subjects !== null && weak.length === 0,
      f.subjects === null
        ? 'unknown'
        : weak.map((s) => `${s.subject}: ${s.level}`).join(', ') ||
            `every subject ${[...new Set(subjects.map((s) => s.level))].join('/') || '—'}`,
      `every subject ${ACCEPTED_COMPATIBILITY.join(' | ')}`,
    ),
    check('connector running', f.connector.state === 'RUNNING', f.connector.state, 'RUNNING'),
    check(
      'tasks running',
      f.connector.tasks.length > 0 && f.connector.tasks.every((t) => t.state === 'RUNNING'),
      f.connector.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'no tasks',
      'every task RUNNING',
    ),
    ...(f.clients
      ? [
          check(
            'clients read the secret',
            f.clients.literal.length === 0,
            `${f.clients.clients.length ? `restarted onto the new user: ${f.clients.clients.join(', ')}` : `no connector authenticates as ${l.account}`}${f.clients.literal.length ? `; with ${f.account.user} written into their config: ${f.clients.literal.join(', ')}` : ''}`,
            `every connector that authenticates as ${l.account} reads ${l.account}-user/-password from ${l.secret} through a config provider`,
          ),
        ]
      : []),
    check(
      'no rotation half-done',
      f.account.next === null && f.account.previous === null,
      [
        f.account.next && `${l.account}-next-user = ${f.account.next}`,
        f.account.previous && `${l.account}-previous-user = ${f.account.previous}`,
      ]
        .filter(Boolean)
        .join(', ') || 'only the current user',
      `no ${l.account}-next-* or ${l.account}-previous-* keys in ${l.secret} (finish or undo the earlier rotation first)`,
    ),
  ];
}
