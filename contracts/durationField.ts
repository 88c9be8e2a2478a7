import { z } from 'zod';
import { parseIsoDuration } from './duration.js';

/**
 * An ISO-8601 duration field with bounds, as operators write it in JSON input (PT15S, PT2H).
 * `minMs` 0 accepts PT0S (a wait that may be skipped); the message names the bounds.
 */
export function isoDurationField(opts: { maxMs: number; minMs?: number; example: string }) {
  const min = opts.minMs ?? 1;
  const bound =
    opts.maxMs >= 3_600_000 ? `${Math.round(opts.maxMs / 3_600_000)} h` : `${Math.round(opts.maxMs / 1000)} s`;
  return z
    .string()
    .max(40)
    .refine(
      (v) => {
        const ms = parseIsoDuration(v);
        return ms !== undefined && ms >= min && ms <= opts.maxMs;
      },
      `must be ${min > 0 ? 'a positive' : 'an'} ISO-8601 duration (at most ${bound}), such as ${opts.example}`,
    );
}

/**
 * After a restart of the Schema Registry (or Connect), how long the rotation keeps watching
 * the registry's client connectors and restarts tasks that fail: a lookup that was in flight
 * during the restart may fail a few seconds after the registry is back.
 */
export const clientWatchField = () =>
  isoDurationField({ maxMs: 600_000, minMs: 0, example: 'PT15S' }).describe(
    'after each registry or Connect restart, how long to keep watching the connectors that use the registry, restarting tasks that FAIL meanwhile (at most PT10M)',
  );
