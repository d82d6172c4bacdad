/** Inputs shared by the lib tests: the seed's pipeline (DESIGN.md, original README) and small variants. */
import type { PipelineInput } from "../../lib/api/schemas.ts";

/** The pipeline of the original README, all three stages. */
export const seedPipeline: PipelineInput = {
  name: "test1",
  repository: "repo1",
  stages: {
    run_stage: { command: "some command" },
    build_stage: { dockerfile_path: "Dockerfile" },
    deploy_stage: { cluster_name: "staging_eks_cluster", manifest_path: "k8s/" },
  },
};

/** A pipeline with only a run stage whose command is `command`. */
export const runOnly = (name: string, command = "make test"): PipelineInput => ({
  name,
  repository: `repo-${name}`,
  stages: { run_stage: { command } },
});

/** A deep copy, so that a test can change an input without touching the shared one. */
export const copy = <T>(value: T): T => structuredClone(value);
