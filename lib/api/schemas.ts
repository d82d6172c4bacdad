/**
 * Wire schemas: the one place where the JSON shapes of the API are defined.
 * Types are inferred from them and shared by handlers, store, CLI and tests.
 * zod/mini, not classic zod: the same validation, but a deployed function loads it in about 4 ms
 * where classic zod took 21 ms of a cold start (measured here, bundles of each against an empty module).
 */
import * as z from "zod/mini";
import { projectMessage } from "./messages.ts";
import { sortedEnv, STAGE_KINDS } from "./order.ts";

// zod/mini ships without messages (every issue would read "Invalid input"): the project words them.
z.config({ customError: projectMessage });

/** A text field: trimmed, not empty; missing, mistyped and too long are worded by projectMessage. */
const text = (what: string, max = 4096) =>
  z.string().check(
    z.trim(),
    z.minLength(1),
    z.maxLength(max),
    // NUL cannot be stored in PostgreSQL text (it would be a 500 there); tab and newline are fine.
    z.refine((v) => !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(v), `${what} must not contain control characters`),
    // Nor can a lone UTF-16 surrogate (invalid JSON for jsonb, silently replaced in text).
    z.refine((v) => !LONE_SURROGATE.test(v), `${what} must be valid Unicode`),
  );

/** Half of a surrogate pair without its other half: not Unicode, and refused by PostgreSQL. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const wholeIn = (what: string, min: number, max: number) =>
  z.int({ error: `${what} must be a whole number` }).check(z.gte(min, `${what} must be at least ${min}`), z.lte(max, `${what} must be at most ${max}`));

/** What every stage spec may add: how long an attempt may take, and how often a failed stage runs again. */
const stageControl = {
  timeout_seconds: z.optional(wholeIn("timeout_seconds", 1, 86_400)),
  retries: z.optional(wholeIn("retries", 0, 5)),
};

export const RunStageSpec = z.strictObject({ command: text("command"), ...stageControl });
export const BuildStageSpec = z.strictObject({ dockerfile_path: text("dockerfile_path"), ...stageControl });
export const DeployStageSpec = z.strictObject({
  cluster_name: text("cluster_name"),
  manifest_path: text("manifest_path"),
  ...stageControl,
});

export const StagesSpec = z
  .strictObject({
    run_stage: z.optional(RunStageSpec),
    build_stage: z.optional(BuildStageSpec),
    deploy_stage: z.optional(DeployStageSpec),
  })
  .check(
    z.refine((s) => Boolean(s.run_stage ?? s.build_stage ?? s.deploy_stage), {
      message: "at least one of run_stage, build_stage, deploy_stage is required",
    }),
  );
export type StagesSpec = z.infer<typeof StagesSpec>;

/**
 * What a new trigger does to the pipeline's other runs: `queue` (FIFO), `supersede` (cancels its
 * queued runs) or `cancel_in_progress` (also cancels its running run).
 */
export const CONCURRENCY_POLICIES = ["queue", "supersede", "cancel_in_progress"] as const;
export const Concurrency = z.enum(CONCURRENCY_POLICIES, { error: `concurrency must be one of ${CONCURRENCY_POLICIES.join(", ")}` });
export type Concurrency = z.infer<typeof Concurrency>;

/** A request body that must be a JSON object: says so when there is none, or something else. */
const bodyError = { error: (issue: { input: unknown }) => (issue.input === undefined ? "request body is required" : "request body must be a JSON object") };

/** What a client sends to create or replace a pipeline; `concurrency` defaults to "queue". */
export const PipelineInput = z.strictObject(
  {
    name: text("name", 200),
    repository: text("repository"),
    stages: StagesSpec,
    concurrency: z.optional(Concurrency),
  },
  bodyError,
);
export type PipelineInput = z.infer<typeof PipelineInput>;

const timestamp = z.iso.datetime();

export const Pipeline = z.strictObject({
  id: z.uuid(),
  ...PipelineInput.shape,
  concurrency: Concurrency,
  created_at: timestamp,
  updated_at: timestamp,
});
export type Pipeline = z.infer<typeof Pipeline>;

export const RUN_STATUSES = ["queued", "running", "success", "failed", "cancelled"] as const;
export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatus>;

export const STAGE_STATUSES = ["pending", "running", "success", "failed", "skipped", "cancelled"] as const;
export const StageStatus = z.enum(STAGE_STATUSES);
export type StageStatus = z.infer<typeof StageStatus>;

export const StageRun = z.strictObject({
  name: z.enum(STAGE_KINDS),
  status: StageStatus,
  started_at: z.nullable(timestamp),
  finished_at: z.nullable(timestamp),
  /** Times the stage started: 1 once it runs, more when it was retried. */
  attempts: z.int(),
  logs: z.array(z.string()),
});
export type StageRun = z.infer<typeof StageRun>;

export const Run = z.strictObject({
  id: z.uuid(),
  pipeline_id: z.uuid(),
  git_ref: z.string(),
  /** The trigger's parameters (TriggerInput.env); a rerun keeps its original's. */
  env: z.record(z.string(), z.string()),
  status: RunStatus,
  stages: z.array(StageRun),
  error: z.nullable(z.string()),
  created_at: timestamp,
  started_at: z.nullable(timestamp),
  finished_at: z.nullable(timestamp),
  updated_at: timestamp,
  /** The run this one reran. */
  rerun_of: z.nullable(z.uuid()),
  /** When a cancel of the running run was asked for; the run ends `cancelled` once its worker stops it. */
  cancel_requested_at: z.nullable(timestamp),
  /** While queued: 1 for the pipeline's next run. */
  queue_position: z.optional(z.int()),
  /** While queued: "run <id>" (the run ahead of it) or "a free worker". */
  waiting_for: z.optional(z.string()),
});
export type Run = z.infer<typeof Run>;

/** A run's log line: numbered within the run, so that a follower asks for the lines after the last it has. */
export const LogLine = z.strictObject({ seq: z.int(), stage: z.enum(STAGE_KINDS), time: timestamp, text: z.string() });
export type LogLine = z.infer<typeof LogLine>;

/** GET /runs/{id}/logs: the lines after `after`, where to go on from, and `done` once the run has finished and no line is left after next_after. */
export const LogsPage = z.strictObject({ lines: z.array(LogLine), next_after: z.int(), status: RunStatus, done: z.boolean() });
export type LogsPage = z.infer<typeof LogsPage>;

/**
 * A git ref as `git check-ref-format --allow-onelevel` accepts it: no component starting with `.` or
 * ending with `.lock`; no `..`, `@{`, `//`, control characters, space or any of `~^:?*[\`; not `@`,
 * not starting with `/` or `-` (it would read as a flag), not ending with `/` or `.`.
 */
export function isValidGitRef(ref: string): boolean {
  if (ref === "@" || ref.startsWith("-") || ref.startsWith("/") || ref.endsWith("/") || ref.endsWith(".")) return false;
  if (ref.includes("..") || ref.includes("@{") || ref.includes("//") || /[\x00-\x20\x7f~^:?*[\\]/.test(ref)) return false;
  return ref.split("/").every((part) => !part.startsWith(".") && !part.endsWith(".lock"));
}

const gitRef = z.string().check(
  z.minLength(1),
  z.maxLength(255),
  z.refine((ref) => isValidGitRef(ref) && !LONE_SURROGATE.test(ref), "git_ref is not a valid git ref"),
);

/** How a trigger parameter's name must look: a shell variable name in upper case. */
export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
export const MAX_ENV_ENTRIES = 50;
export const MAX_ENV_VALUE_BYTES = 4096;

/** Why a trigger parameter cannot be given, or undefined: CI and STAGERUNNER_* are what the executor sets for every stage. */
function envProblem(name: string, value: string): string | undefined {
  if (!ENV_NAME.test(name)) return `${name} is not a valid variable name: use A-Z, 0-9 and _, not starting with a digit`;
  if (name === "CI" || name.startsWith("STAGERUNNER_")) return `${name} is reserved: Stagerunner sets CI and STAGERUNNER_* for every stage`;
  if (Buffer.byteLength(value) > MAX_ENV_VALUE_BYTES) return `${name} must be at most ${MAX_ENV_VALUE_BYTES} bytes (UTF-8)`;
  // NUL cannot be stored in PostgreSQL nor passed to a process; other control characters can.
  if (value.includes("\u0000")) return `${name} must not contain NUL characters`;
  if (LONE_SURROGATE.test(value)) return `${name} must be valid Unicode`;
  return undefined;
}

/**
 * A trigger's parameters, given to each stage as environment variables: each problem is reported at
 * `env.<NAME>`. Sorted by name, so that the same parameters in another order are the same request
 * (the Idempotency-Key fingerprint) and read the same from either store.
 */
export const RunEnv = z.pipe(
  z.record(z.string(), z.string()).check(
    z.refine((env) => Object.keys(env).length <= MAX_ENV_ENTRIES, `env must have at most ${MAX_ENV_ENTRIES} variables`),
    (ctx) => {
      for (const [name, value] of Object.entries(ctx.value)) {
        const message = envProblem(name, value);
        if (message) ctx.issues.push({ code: "custom", message, input: value, path: [name] });
      }
    },
  ),
  z.transform((env: Record<string, string>) => sortedEnv(env)),
);
export type RunEnv = Record<string, string>;

export const TriggerInput = z.strictObject({ git_ref: z._default(gitRef, "main"), env: z._default(RunEnv, {}) }, bodyError);
export type TriggerInput = z.infer<typeof TriggerInput>;

export const CancelInput = z.strictObject({ reason: z._default(text("reason", 500), "by request") }, bodyError);
export type CancelInput = z.infer<typeof CancelInput>;

/**
 * A whole number from a query string, digits only (`1e2`, `0x10`, `+5` and ` 5` are not), from `min`
 * to `max`; `fallback` when absent.
 */
const decimal = (what: string, min: number, max: number, fallback: number) =>
  z.pipe(
    z.optional(z.string().check(z.regex(/^[0-9]{1,10}$/, `${what} must be a whole number`))),
    z.pipe(
      z.transform((v: string | undefined) => (v === undefined ? fallback : Number(v))),
      z.number().check(z.gte(min, `${what} must be at least ${min}`), z.lte(max, `${what} must be at most ${max}`)),
    ),
  );

/** `?limit=`: default 100, at most 1000. */
const limit = decimal("limit", 1, 1000, 100);
const cursor = z.optional(z.string().check(z.minLength(1), z.maxLength(200)));

/** A UUID in either case (RFC 9562 allows upper case), as lower case: the form ids are stored and compared in. */
const uuid = (what: string) => z.pipe(z.string().check(z.toLowerCase()), z.uuid(`${what} must be a UUID`));

export const ListPipelinesQuery = z.strictObject({ limit, cursor });
export type ListPipelinesQuery = z.infer<typeof ListPipelinesQuery>;

export const ListRunsQuery = z.strictObject({
  limit,
  cursor,
  pipeline_id: z.optional(uuid("pipeline_id")),
  status: z.optional(RunStatus),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

export const LogsQuery = z.strictObject({ after: decimal("after", 0, 2_000_000_000, 0), wait_ms: decimal("wait_ms", 0, 25_000, 0) });
export type LogsQuery = z.infer<typeof LogsQuery>;

export const IdParam = uuid("id");

/** RFC 9457 problem details, as every error response carries them. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.optional(z.string()),
  errors: z.optional(z.array(z.object({ path: z.string(), message: z.string() }))),
});
export type Problem = z.infer<typeof Problem>;
