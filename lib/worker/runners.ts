/**
 * The stage runner a worker process uses, as its settings say: `simulate` (the default) or `shell`.
 * Shell settings are checked here, at start-up, so that a bad one stops the process with one line.
 */
import { mkdirSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../api/errors.ts";
import type { Clock } from "../clock.ts";
import type { WorkerConfig } from "../config/workerSettings.ts";
import { parseTemplate } from "./shell/commands.ts";
import { loadSecrets } from "./shell/secrets.ts";
import { shellRunner } from "./shell/shellRunner.ts";
import { processWorkspaceRoot } from "./shell/workspace.ts";
import { simulateRunner, type StageRunner } from "./stageRunner.ts";

export type RunnerConfig = Pick<
  WorkerConfig,
  | "executor"
  | "stageDurationMs"
  | "failureProbability"
  | "workspaceDir"
  | "keepWorkspaces"
  | "buildCommand"
  | "deployCommand"
  | "secretsFile"
  | "killGraceMs"
  | "allowRoot"
>;

export const workspaceDirOf = (config: Pick<RunnerConfig, "workspaceDir">): string => config.workspaceDir || join(tmpdir(), "stagerunner-workspaces");

/** How stages run, for a start-up banner. */
export const describeExecutor = (config: RunnerConfig): string =>
  config.executor === "shell"
    ? `shell executor, workspaces in ${workspaceDirOf(config)}`
    : `simulated stages of ${config.stageDurationMs} ms, failure probability ${config.failureProbability}`;

export function stageRunnerFor(config: RunnerConfig, clock: Clock, uid = process.getuid?.()): StageRunner {
  if (config.executor === "simulate") return simulateRunner({ clock, durationMs: config.stageDurationMs, failureProbability: config.failureProbability });
  if (uid === 0 && !config.allowRoot)
    throw new ConfigError("--executor shell: refusing to run stages as root (whoever holds a token could run any command as root); run as an unprivileged user, or pass --allow-root");
  const workspaceDir = workspaceDirOf(config);
  try {
    mkdirSync(workspaceDir, { recursive: true });
    accessSync(workspaceDir, constants.W_OK);
  } catch (error) {
    throw new ConfigError(`--workspace-dir: cannot use ${workspaceDir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return shellRunner({
    workspaceDir: processWorkspaceRoot(workspaceDir, { removeStale: !config.keepWorkspaces }),
    keepWorkspaces: config.keepWorkspaces,
    templates: { build: parseTemplate("build", config.buildCommand), deploy: parseTemplate("deploy", config.deployCommand) },
    secrets: config.secretsFile ? loadSecrets(config.secretsFile) : {},
    killGraceMs: config.killGraceMs,
  });
}
