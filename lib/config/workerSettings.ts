/**
 * The settings of a process that runs stages: the worker pool, the simulated stage and the shell
 * executor, over the store settings (settings.ts). `stagerunner worker`, the worker function and,
 * with the HTTP ones, `stagerunner server` read them.
 */
import * as z from "zod/mini";
import { setting, storeSettings, trimmed, whole, type ConfigOf } from "./settings.ts";

const fraction = z.pipe(trimmed(z.regex(/^(0(\.\d*)?|\.\d+|1(\.0*)?)$/, "must be a number from 0 to 1")), z.transform(Number));

const onOff = z.pipe(
  trimmed(z.regex(/^(true|false|1|0|yes|no|)$/i, "must be true or false")),
  z.transform((v) => /^(true|1|yes)$/i.test(v)),
);

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

export type WorkerConfig = ConfigOf<typeof workerSettings>;
