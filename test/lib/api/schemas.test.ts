/**
 * Wire schemas as a client meets them: what is accepted, and which field a 400 names when not
 * (the paths come from ValidationError, as the handlers build it).
 */
import { describe, expect, it } from "vitest";
import type * as z from "zod/mini";
import { ValidationError, type FieldError } from "../../../lib/api/errors.ts";
import { ListRunsQuery, PipelineInput, TriggerInput } from "../../../lib/api/schemas.ts";
import { copy, seedPipeline } from "../../support/fixtures.ts";

/** The field errors a client would get for `body`, as the handlers report them; [] when valid. */
function fieldErrors(schema: z.ZodMiniType, body: unknown): FieldError[] {
  const result = schema.safeParse(body);
  return result.success ? [] : (new ValidationError("request body", result.error).errors ?? []);
}

const paths = (schema: z.ZodMiniType, body: unknown): string[] => fieldErrors(schema, body).map((e) => e.path).sort();

describe("PipelineInput", () => {
  it("accepts the seed's pipeline unchanged", () => {
    expect(PipelineInput.parse(copy(seedPipeline))).toEqual(seedPipeline);
  });

  it("accepts any non-empty subset of the stages", () => {
    for (const stages of [
      { run_stage: { command: "make" } },
      { build_stage: { dockerfile_path: "Dockerfile" } },
      { deploy_stage: { cluster_name: "c", manifest_path: "k8s/" } },
      { build_stage: { dockerfile_path: "D" }, deploy_stage: { cluster_name: "c", manifest_path: "m" } },
    ])
      expect(paths(PipelineInput, { name: "n", repository: "r", stages })).toEqual([]);
  });

  it("trims surrounding whitespace from text fields", () => {
    const parsed = PipelineInput.parse({ name: "  test1 ", repository: "repo1\n", stages: { run_stage: { command: " make test " } } });
    expect(parsed).toEqual({ name: "test1", repository: "repo1", stages: { run_stage: { command: "make test" } } });
  });

  it("names a missing field by its full path", () => {
    const body = copy(seedPipeline) as Record<string, any>;
    delete body.stages.run_stage.command;
    delete body.stages.deploy_stage.manifest_path;
    delete body.repository;
    expect(fieldErrors(PipelineInput, body)).toEqual(
      expect.arrayContaining([
        { path: "stages.run_stage.command", message: "command is required" },
        { path: "stages.deploy_stage.manifest_path", message: "manifest_path is required" },
        { path: "repository", message: "repository is required" },
      ]),
    );
    expect(paths(PipelineInput, body)).toEqual(["repository", "stages.deploy_stage.manifest_path", "stages.run_stage.command"]);
  });

  it("names each unknown stage key and each unknown field separately", () => {
    const body = { ...copy(seedPipeline), owner: "me", extra: 1 } as Record<string, any>;
    body.stages.x = { command: "y" };
    body.stages.test_stage = {};
    body.stages.run_stage.shell = "bash";
    expect(paths(PipelineInput, body)).toEqual(["extra", "owner", "stages.run_stage.shell", "stages.test_stage", "stages.x"]);
    expect(fieldErrors(PipelineInput, body).every((e) => e.message === "unknown field")).toBe(true);
  });

  it("rejects wrong types, naming the field", () => {
    expect(fieldErrors(PipelineInput, { ...seedPipeline, name: 5 })).toEqual([{ path: "name", message: "name must be a string" }]);
    expect(paths(PipelineInput, { ...seedPipeline, repository: ["r"] })).toEqual(["repository"]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: { run_stage: { command: 42 } } })).toEqual(["stages.run_stage.command"]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: { run_stage: "make" } })).toEqual(["stages.run_stage"]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: { run_stage: null } })).toEqual(["stages.run_stage"]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: [] })).toEqual(["stages"]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: "run" })).toEqual(["stages"]);
  });

  it("rejects a body that is not an object, at the root", () => {
    for (const body of [null, "pipeline", 3, [seedPipeline], undefined]) expect(paths(PipelineInput, body)).toEqual(["(root)"]);
  });

  it("rejects empty and whitespace-only strings, naming the field", () => {
    expect(fieldErrors(PipelineInput, { ...seedPipeline, name: "" })).toEqual([{ path: "name", message: "name must not be empty" }]);
    expect(fieldErrors(PipelineInput, { ...seedPipeline, repository: " \t\n " })).toEqual([{ path: "repository", message: "repository must not be empty" }]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: { build_stage: { dockerfile_path: "   " } } })).toEqual(["stages.build_stage.dockerfile_path"]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: { deploy_stage: { cluster_name: "", manifest_path: " " } } })).toEqual([
      "stages.deploy_stage.cluster_name",
      "stages.deploy_stage.manifest_path",
    ]);
  });

  it("rejects a pipeline without stages, saying one is required", () => {
    const { stages: _, ...noStages } = seedPipeline;
    expect(paths(PipelineInput, noStages)).toEqual(["stages"]);
    const empty = fieldErrors(PipelineInput, { ...seedPipeline, stages: {} });
    expect(empty).toEqual([{ path: "stages", message: expect.stringContaining("at least one of run_stage, build_stage, deploy_stage") }]);
  });

  it("rejects over-long values", () => {
    expect(paths(PipelineInput, { ...seedPipeline, name: "n".repeat(201) })).toEqual(["name"]);
    expect(paths(PipelineInput, { ...seedPipeline, name: "n".repeat(200) })).toEqual([]);
    expect(paths(PipelineInput, { ...seedPipeline, stages: { run_stage: { command: "c".repeat(4097) } } })).toEqual(["stages.run_stage.command"]);
  });
});

describe("TriggerInput", () => {
  it("defaults git_ref to main", () => {
    expect(TriggerInput.parse({})).toEqual({ git_ref: "main" });
  });

  it("accepts refs git accepts", () => {
    for (const ref of ["main", "feature/login-form", "v1.2.3", "refs/heads/main", "release-2024.01", "a1b2c3d4e5f6", "user@host", "ünïcode"])
      expect(TriggerInput.parse({ git_ref: ref })).toEqual({ git_ref: ref });
  });

  it("rejects refs git rejects, naming git_ref", () => {
    for (const ref of ["", " ", "has space", "a..b", "-leading-dash", "/leading", "trailing/", "trailing.", "x.lock", "a//b", "a~1", "a^2", "a:b", "what?", "star*", "br[acket", "back\\slash", "at@{1}", "tab\there", "nul\u0000", "del\u007f", "r".repeat(256)])
      expect(new Set(paths(TriggerInput, { git_ref: ref })), JSON.stringify(ref)).toEqual(new Set(["git_ref"]));
  });

  it("rejects refs with a component git-check-ref-format forbids (leading dot, .lock component, lone @)", () => {
    // The schema says it follows git-check-ref-format; `git check-ref-format --allow-onelevel` rejects each of these.
    const refs = [".hidden", "feature/.hidden", "a.lock/b", "@"];
    expect(refs.filter((ref) => TriggerInput.safeParse({ git_ref: ref }).success)).toEqual([]);
  });

  it("rejects a git_ref that is not a string, and unknown fields", () => {
    expect(fieldErrors(TriggerInput, { git_ref: 7 })).toEqual([{ path: "git_ref", message: "git_ref must be a string" }]);
    expect(paths(TriggerInput, { git_ref: null })).toEqual(["git_ref"]);
    expect(paths(TriggerInput, { ref: "main" })).toEqual(["ref"]);
  });
});

describe("ListRunsQuery", () => {
  it("reads limit from the query string, defaults it to 100, and bounds it to 1..1000", () => {
    expect(ListRunsQuery.parse({})).toEqual({ limit: 100 });
    expect(ListRunsQuery.parse({ limit: "1000" })).toMatchObject({ limit: 1000 });
    for (const limit of ["0", "1001", "abc", "2.5", "-1"]) expect(paths(ListRunsQuery, { limit }), limit).toEqual(["limit"]);
  });

  it("names a bad pipeline_id or status", () => {
    expect(paths(ListRunsQuery, { pipeline_id: "nope", status: "done" })).toEqual(["pipeline_id", "status"]);
  });
});
