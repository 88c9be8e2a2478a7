import type { z } from 'zod';

/** A run's input refused at the edge (CLI, worker start, a parent's launch): every problem names its field. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(readonly issues: Array<{ field: string; message: string }>) {
    super(`invalid rotation input: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  }
}

/** Parses `raw` with `schema`, or throws InvalidInputError listing each field's problem. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidInputError(
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(input)', message: i.message })),
    );
  return parsed.data;
}
