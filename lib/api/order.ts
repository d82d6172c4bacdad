/**
 * The orders the wire format fixes, as plain values: the store and the workers read them without
 * loading the zod schemas (schemas.ts), which a worker function never parses with (in its bundle
 * they were about 22 KB, with the parts of zod that only they use).
 */

/** Stage kinds in the order they execute. */
export const STAGE_KINDS = ["run", "build", "deploy"] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

/**
 * A run's `env` with its names in sorted order (PostgreSQL's jsonb orders keys by length first), so
 * that it reads the same from either store and the same parameters in another order are the same request.
 */
export const sortedEnv = (env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
