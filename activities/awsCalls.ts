import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';

/** The keys of an AWS credential secret (what the S3 sink's config provider reads). */
export const ID_KEY = 'access-key-id';
export const SECRET_KEY = 'secret-access-key';
const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClient',
  'ExpiredToken',
  'CredentialsProviderError',
]);
const THROTTLED = new Set([
  'Throttling',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'RequestTimeout',
]);

export const codeOf = (err: unknown): string => {
  const e = err as { Code?: string; name?: string };
  return (e.Code ?? e.name ?? 'Error').replace(/Exception$/, '');
};

/**
 * An AWS SDK error as an activity failure: the error code and HTTP status, the first line of
 * AWS's message (which never quotes a secret). Throttling, 5xx and network errors are retried;
 * not found, access denied, limits and other 4xx answers are not.
 */
export function awsFailure(what: string, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const code = codeOf(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const message = `${what}: ${code}${status ? ` (HTTP ${status})` : ''}: ${String((err as Error)?.message ?? err)
    .split('\n')[0]!
    .slice(0, 300)}`;
  if (code === 'NoSuchEntity' || code === 'NoSuchBucket')
    return ApplicationFailure.nonRetryable(message, 'AwsNotFound');
  if (code === 'LimitExceeded') return ApplicationFailure.nonRetryable(message, 'AccessKeyLimitExceeded');
  if (DENIED.has(code)) return ApplicationFailure.nonRetryable(message, 'AwsAccessDenied');
  if (status === undefined || status >= 500 || status === 429 || THROTTLED.has(code))
    return ApplicationFailure.retryable(message, 'AwsUnavailable');
  return ApplicationFailure.nonRetryable(message, 'AwsRequestFailed');
}

/** Polls `probe` every `everyMs` until it is done or `timeoutMs` passed, heartbeating what it saw; retryable errors count as "not yet". */
export async function until<T>(
  timeoutMs: number,
  everyMs: number,
  probe: () => Promise<{ done: T } | { seen: string }>,
  onTimeout: (seen: string) => ApplicationFailure,
): Promise<T & { waitedMs: number }> {
  const t0 = Date.now();
  let seen = 'no answer yet';
  for (;;) {
    try {
      const r = await probe();
      if ('done' in r) return { ...r.done, waitedMs: Date.now() - t0 };
      seen = r.seen;
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
      seen = (err as Error).message;
    }
    if (Date.now() - t0 >= timeoutMs) throw onTimeout(seen);
    heartbeat(seen);
    await sleep(everyMs);
  }
}
