/**
 * Server settings: each one a flag, an environment variable and a default, validated by a zod schema,
 * so that a bad value stops start-up with one line naming the setting and where it came from.
 */
import * as z from "zod/mini";
import { parseTokens } from "../http/auth.ts";
import { ConfigError } from "../api/errors.ts";

const trimmed = (...checks: z.core.$ZodCheck<string>[]) => z.string().check(z.trim(), ...checks);

const whole = (min: number, max: number) =>
  z.pipe(
    z.pipe(trimmed(z.regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)), z.transform(Number)),
    z.number().check(z.gte(min, `must be at least ${min}`), z.lte(max, `must be at most ${max}`)),
  );

/** A whole number, or undefined when the setting is not given. */
const optionalWhole = (min: number, max: number) =>
  z.pipe(
    trimmed(z.regex(/^(\d+)?$/, `must be a whole number from ${min} to ${max}`)),
    z.transform((v) => (v === "" ? undefined : Number(v))),
  ).check(z.refine((v) => v === undefined || (v >= min && v <= max), `must be a whole number from ${min} to ${max}`));

const fraction = z.pipe(trimmed(z.regex(/^(0(\.\d*)?|\.\d+|1(\.0*)?)$/, "must be a number from 0 to 1")), z.transform(Number));

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

const setting = <T>(s: Setting<T>): Setting<T> => s;

const onOff = z.pipe(
  trimmed(z.regex(/^(true|false|1|0|yes|no|)$/i, "must be true or false")),
  z.transform((v) => /^(true|1|yes)$/i.test(v)),
);

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

/** What every process running workers reads: `stagerunner worker` and the worker function. */
export const workerSettings = {
  ...storeSettings,
  workers: setting({ flag: "workers", env: "STAGERUNNER_WORKERS", default: "4", description: "worker pool size (0: API only)", schema: whole(0, 1024) }),
  failureProbability: setting({
    flag: "failure-probability",
    env: "STAGERUNNER_FAILURE_PROBABILITY",
    default: "0",
    description: "chance that a simulated stage fails, 0..1",
    schema: fraction,
  }),
  stageDurationMs: setting({
    flag: "stage-duration-ms",
    env: "STAGERUNNER_STAGE_DURATION_MS",
    default: "1000",
    description: "how long a simulated stage takes",
    schema: whole(0, 86_400_000),
  }),
  stageTimeoutS: setting({
    flag: "stage-timeout-s",
    env: "STAGERUNNER_STAGE_TIMEOUT_S",
    default: "3600",
    description: "a stage's time limit when its spec sets no timeout_seconds",
    schema: whole(1, 86_400),
  }),
  executor: setting({
    flag: "executor",
    env: "STAGERUNNER_EXECUTOR",
    default: "simulate",
    description: 'how stages run: "simulate" (log and wait) or "shell" (run their commands; see README, Real execution)',
    schema: z.pipe(trimmed(), z.enum(["simulate", "shell"], 'must be "simulate" or "shell"')),
  }),
  workspaceDir: setting({
    flag: "workspace-dir",
    env: "STAGERUNNER_WORKSPACE_DIR",
    default: undefined,
    description: "shell: where each run gets its workspace (default: stagerunner-workspaces in the OS temp dir)",
    schema: trimmed(),
  }),
  keepWorkspaces: setting({
    flag: "keep-workspaces",
    env: "STAGERUNNER_KEEP_WORKSPACES",
    switch: true,
    default: undefined,
    description: "shell: leave each run's workspace in place when it ends, for debugging",
    schema: onOff,
  }),
  buildCommand: setting({
    flag: "build-command",
    env: "STAGERUNNER_BUILD_COMMAND",
    default: "docker build -f {dockerfile} -t {image} .",
    description: "shell: a build stage's command; placeholders {dockerfile} {image} {run_id} {git_ref}",
    schema: trimmed(),
  }),
  deployCommand: setting({
    flag: "deploy-command",
    env: "STAGERUNNER_DEPLOY_COMMAND",
    default: "kubectl --context {cluster} apply -f {manifest}",
    description: "shell: a deploy stage's command; placeholders {cluster} {manifest} {image} {run_id} {git_ref}",
    schema: trimmed(),
  }),
  secretsFile: setting({
    flag: "secrets-file",
    env: "STAGERUNNER_SECRETS_FILE",
    default: undefined,
    description: "shell: a dotenv file of secrets, given to stages as variables and masked as *** in logs",
    schema: trimmed(),
  }),
  killGraceMs: setting({
    flag: "kill-grace-ms",
    env: "STAGERUNNER_KILL_GRACE_MS",
    default: "10000",
    description: "shell: a stopped stage's time between SIGTERM and SIGKILL",
    schema: whole(0, 3_600_000),
  }),
  allowRoot: setting({
    flag: "allow-root",
    env: "STAGERUNNER_ALLOW_ROOT",
    switch: true,
    default: undefined,
    description: "shell: run stages even though this process runs as root",
    schema: onOff,
  }),
  shutdownGraceMs: setting({
    flag: "shutdown-grace-ms",
    env: "STAGERUNNER_SHUTDOWN_GRACE_MS",
    default: "10000",
    description: "on SIGINT/SIGTERM, how long running runs may go on before they are cancelled",
    schema: whole(0, 3_600_000),
  }),
};

/** `stagerunner server`: the worker settings and the HTTP ones. */
export const serverSettings = {
  host: setting({ flag: "host", env: "STAGERUNNER_HOST", default: "127.0.0.1", description: "address to listen on", schema: trimmed(z.minLength(1, "must not be empty")) }),
  port: setting({ flag: "port", env: "STAGERUNNER_PORT", default: "8080", description: "port to listen on (0: any free port)", schema: whole(0, 65535) }),
  token: setting({
    flag: "token",
    env: "STAGERUNNER_TOKEN",
    default: undefined,
    description: "accepted API token(s), comma-separated; one is generated and printed when none is set",
    schema: z.pipe(z.string(), z.transform(parseTokens)),
  }),
  ...workerSettings,
  from: setting({
    flag: "from",
    env: "STAGERUNNER_FROM",
    default: "",
    description: "serve the built bundles of this directory (npm run build writes dist/) instead of the sources",
    schema: trimmed(),
  }),
  basePath: setting({
    flag: "base-path",
    env: "STAGERUNNER_BASE_PATH",
    default: "",
    description: "serve every route under this stage prefix, e.g. /prod",
    schema: trimmed(z.regex(/^(\/[A-Za-z0-9._~-]+)?$/, "must be empty or one path segment such as /prod")),
  }),
};

/** `stagerunner migrate` */
export const migrateSettings = { store: storeSettings.store };

export type ServerConfig = ConfigOf<typeof serverSettings>;
export type WorkerConfig = ConfigOf<typeof workerSettings>;

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

export const loadServerConfig = (flags: Partial<Record<keyof typeof serverSettings, string | boolean>>, env?: NodeJS.ProcessEnv): ServerConfig =>
  loadConfig(serverSettings, flags, env);
