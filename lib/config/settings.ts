/**
 * Settings: each one a flag, an environment variable and a default, validated by a zod schema, so
 * that a bad value stops start-up with one line naming the setting and where it came from. Here the
 * store's, which every process reads (an HTTP function only these); workerSettings.ts and
 * serverSettings.ts add those of the processes that run stages and serve HTTP.
 */
import * as z from "zod/mini";
import { ConfigError } from "../api/errors.ts";

export const trimmed = (...checks: z.core.$ZodCheck<string>[]) => z.string().check(z.trim(), ...checks);

export const whole = (min: number, max: number) =>
  z.pipe(
    z.pipe(trimmed(z.regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)), z.transform(Number)),
    z.number().check(z.gte(min, `must be at least ${min}`), z.lte(max, `must be at most ${max}`)),
  );

/** A whole number, or undefined when the setting is not given. */
export const optionalWhole = (min: number, max: number) =>
  z.pipe(
    trimmed(z.regex(/^(\d+)?$/, `must be a whole number from ${min} to ${max}`)),
    z.transform((v) => (v === "" ? undefined : Number(v))),
  ).check(z.refine((v) => v === undefined || (v >= min && v <= max), `must be a whole number from ${min} to ${max}`));

export interface Setting<T> {
  flag: string;
  /** A flag without a value (`--allow-root`); its environment variable reads true/false, 1/0, yes/no. */
  switch?: true;
  env: string;
  /** A second environment variable read when `env` is unset (DATABASE_URL, the common convention). */
  fallbackEnv?: string;
  /** Shown in --help; undefined for "none". */
  default: string | undefined;
  description: string;
  schema: z.ZodMiniType<T, string>;
}

export const setting = <T>(s: Setting<T>): Setting<T> => s;

/** Where state lives: this process's memory, or a PostgreSQL database shared by many processes. */
export type StoreConfig = { kind: "memory" } | { kind: "postgres"; url: string };

/** A connection string with its password masked (in the user part and in `?password=`), for messages and banners. */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/([^:/]*):.*@/, "//$1:***@");
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  if (parsed.searchParams.has("password")) parsed.searchParams.set("password", "***");
  return parsed.toString().replace("%2A%2A%2A", "***");
}

const storeSchema = z.pipe(
  trimmed(),
  z.transform((value: string, ctx): StoreConfig => {
    if (value === "memory") return { kind: "memory" };
    if (/^postgres(ql)?:\/\//.test(value) && URL.canParse(value)) return { kind: "postgres", url: value };
    ctx.issues.push({ code: "custom", message: 'must be "memory" or a postgres:// connection URL', input: value });
    return z.NEVER;
  }),
);

/** Settings that every process running workers or serving the API shares. */
export const storeSettings = {
  store: setting({
    flag: "store",
    env: "STAGERUNNER_STORE",
    fallbackEnv: "DATABASE_URL",
    default: "memory",
    description: 'where state lives: "memory" or a postgres:// URL',
    schema: storeSchema,
  }),
  dbPoolSize: setting({ flag: "db-pool-size", env: "STAGERUNNER_DB_POOL_SIZE", default: "10", description: "PostgreSQL connections per process", schema: whole(1, 1000) }),
  dbPoolWaitMs: setting({
    flag: "db-pool-wait-ms",
    env: "STAGERUNNER_DB_POOL_WAIT_MS",
    default: "20000",
    description: "PostgreSQL: how long a request waits for a busy pool's connection before a 503",
    schema: whole(1, 600_000),
  }),
  leaseMs: setting({
    flag: "lease-ms",
    env: "STAGERUNNER_LEASE_MS",
    default: "30000",
    description: "PostgreSQL: a claimed run's lease; a worker silent this long loses its run",
    schema: whole(1000, 3_600_000),
  }),
  retainRuns: setting({
    flag: "retain-runs",
    env: "STAGERUNNER_RETAIN_RUNS",
    default: undefined,
    description: "finished runs to keep, the oldest dropped first (in memory: 10000 when not set; PostgreSQL keeps every run when not set)",
    schema: optionalWhole(1, 100_000_000),
  }),
};

export type ConfigOf<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** The PostgreSQL store's options that the store settings name. */
export const pgStoreOptions = (config: ConfigOf<typeof storeSettings>) => ({
  poolSize: config.dbPoolSize,
  poolWaitMs: config.dbPoolWaitMs,
  leaseMs: config.leaseMs,
  retainRuns: config.retainRuns,
});

/** `stagerunner migrate` */
export const migrateSettings = { store: storeSettings.store };

/**
 * Validates one raw value; ConfigError with a one-line message otherwise.
 * `source` says where the value came from (a flag or an environment variable).
 */
export function parseSetting<T>(s: Setting<T>, raw: string, source: string): T {
  const result = s.schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(`${source}: ${result.error.issues[0]?.message ?? "invalid"} (got ${JSON.stringify(redactUrl(raw))})`);
}

/** Config from flags (strings; true for a switch given) over the environment over the defaults. */
export function loadConfig<S extends Record<string, Setting<unknown>>>(
  settings: S,
  flags: Partial<Record<keyof S, string | boolean>>,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings)) {
    const flag = flags[key];
    const envName = [s.env, s.fallbackEnv].find((name) => name && env[name]);
    if (flag !== undefined) out[key] = parseSetting(s, String(flag), `--${s.flag}`);
    else if (envName) out[key] = parseSetting(s, env[envName]!, envName);
    else out[key] = parseSetting(s, s.default ?? "", `--${s.flag}`);
  }
  return out as ConfigOf<S>;
}
