/**
 * The command line of each stage. A run stage is its command under `/bin/sh -c`; build and deploy
 * are operator-set templates (--build-command, --deploy-command) whose {placeholders} are filled with
 * the pipeline's values, each as one argument of its own: a value is never pasted into a shell line.
 */
import { ConfigError } from "../../api/errors.ts";
import type { StageSpec } from "../../store/stages.ts";
import type { RunContext } from "../stageRunner.ts";

export const DEFAULT_BUILD_COMMAND = "docker build -f {dockerfile} -t {image} .";
export const DEFAULT_DEPLOY_COMMAND = "kubectl --context {cluster} apply -f {manifest}";

/** The placeholders each template may use. */
const PLACEHOLDERS = {
  build: ["dockerfile", "image", "run_id", "git_ref"],
  deploy: ["cluster", "manifest", "image", "run_id", "git_ref"],
} as const;

/** A template as words (split at spaces, no quoting), checked once at start-up. */
export type CommandTemplate = readonly string[];

export function parseTemplate(kind: "build" | "deploy", template: string): CommandTemplate {
  const words = template.trim().split(/\s+/).filter(Boolean);
  const flag = `--${kind}-command`;
  if (words.length === 0) throw new ConfigError(`${flag}: must not be empty`);
  const allowed: readonly string[] = PLACEHOLDERS[kind];
  for (const [, name] of template.matchAll(/\{([^}]*)\}/g))
    if (!allowed.includes(name!)) throw new ConfigError(`${flag}: unknown placeholder {${name}} (use ${allowed.map((p) => `{${p}}`).join(", ")})`);
  if (words[0]!.includes("{")) throw new ConfigError(`${flag}: the program (first word) cannot be a placeholder`);
  return words;
}

/**
 * The image a build stage tags: `stagerunner/<pipeline name as a docker repository>:<run id>`, so
 * that a deploy stage of the same run can name it ({image}, STAGERUNNER_IMAGE).
 */
export function imageName(run: RunContext): string {
  const repository = run.pipelineName.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100) || "pipeline";
  return `stagerunner/${repository}:${run.id}`;
}

export interface Templates {
  build: CommandTemplate;
  deploy: CommandTemplate;
}

/** The argv of a stage. */
export function stageCommand(stage: StageSpec, run: RunContext, templates: Templates): string[] {
  if (stage.kind === "run") return ["/bin/sh", "-c", stage.command];
  const values: Record<string, string> = { image: imageName(run), run_id: run.id, git_ref: run.gitRef };
  if (stage.kind === "build") values.dockerfile = stage.dockerfile_path;
  else Object.assign(values, { cluster: stage.cluster_name, manifest: stage.manifest_path });
  return templates[stage.kind].map((word) => word.replace(/\{([a-z_]+)\}/g, (_, name: string) => values[name]!));
}
