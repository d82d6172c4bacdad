/**
 * The environment a stage process gets: small and written down (README, "Real execution"), so that
 * nothing of the server's own (its token, its DATABASE_URL) reaches a command someone else wrote.
 */
import type { StageKind } from "../../api/order.ts";
import type { RunContext } from "../stageRunner.ts";

/** Names Stagerunner sets itself: a trigger's env or a secret cannot take them. */
export const isReservedVariable = (name: string): boolean => name === "CI" || name.startsWith("STAGERUNNER_");

/** PATH and HOME of the worker process: what finds the tools and their configuration. */
export function hostBasics(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { PATH: env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: env.HOME ?? "/" };
}

/**
 * PATH and HOME, then the trigger's env, then the secrets, then what Stagerunner sets (reserved
 * names, so nothing before overrides them).
 */
export function stageEnvironment(
  run: RunContext,
  stage: StageKind,
  extra: { basics: Record<string, string>; secrets: Record<string, string>; image: string; workspace: string },
): Record<string, string> {
  return {
    ...extra.basics,
    ...run.env,
    ...extra.secrets,
    CI: "true",
    STAGERUNNER_RUN_ID: run.id,
    STAGERUNNER_PIPELINE_ID: run.pipelineId,
    STAGERUNNER_PIPELINE_NAME: run.pipelineName,
    STAGERUNNER_GIT_REF: run.gitRef,
    STAGERUNNER_STAGE: stage,
    STAGERUNNER_IMAGE: extra.image,
    STAGERUNNER_WORKSPACE: extra.workspace,
  };
}
