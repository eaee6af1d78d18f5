/** A problem with what the user asked for: a bad option, config, shape or file. CLI exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure while running a valid request, e.g. a model that returned NaN. CLI exit code 1. */
export class RunError extends Error {
  override name = 'RunError';
}

export function usage(condition: unknown, message: string): asserts condition {
  if (!condition) throw new UsageError(message);
}
