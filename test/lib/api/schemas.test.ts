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
  it("defaults git_ref to main and env to none", () => {
    expect(TriggerInput.parse({})).toEqual({ git_ref: "main", env: {} });
  });

  it("accepts refs git accepts", () => {
    for (const ref of ["main", "feature/login-form", "v1.2.3", "refs/heads/main", "release-2024.01", "a1b2c3d4e5f6", "user@host", "ünïcode"])
      expect(TriggerInput.parse({ git_ref: ref }).git_ref).toBe(ref);
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

  it("takes env as upper-case names to string values, empty and multi-line ones too, sorted by name", () => {
    const env = { Z_LAST: "1", DEPLOY_ENV: "staging", _UNDER: "", NOTE: "line 1\nline 2\ttab", A1: "é".repeat(2048) };
    const parsed = TriggerInput.parse({ env });
    expect(parsed.env).toEqual(env);
    // Sorted, so that the same parameters in another order are the same request (Idempotency-Key).
    expect(Object.keys(parsed.env)).toEqual(["A1", "DEPLOY_ENV", "NOTE", "Z_LAST", "_UNDER"]);
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`V${i}`, "x"]));
    expect(paths(TriggerInput, { env: fifty })).toEqual([]);
  });

  it("refuses each bad env entry at env.<NAME>, saying why", () => {
    const env = {
      lower: "x",
      "1ST": "x",
      "A-B": "x",
      CI: "true",
      STAGERUNNER_RUN_ID: "x",
      HAS_NUL: "a\u0000b",
      HALF_PAIR: "x\ud800",
      // 4097 bytes of UTF-8 in 2049 characters: the limit counts bytes.
      TOO_LONG: "é".repeat(2048) + "x",
    };
    expect(fieldErrors(TriggerInput, { env })).toEqual([
      { path: "env.lower", message: "lower is not a valid variable name: use A-Z, 0-9 and _, not starting with a digit" },
      { path: "env.1ST", message: "1ST is not a valid variable name: use A-Z, 0-9 and _, not starting with a digit" },
      { path: "env.A-B", message: "A-B is not a valid variable name: use A-Z, 0-9 and _, not starting with a digit" },
      { path: "env.CI", message: "CI is reserved: Stagerunner sets CI and STAGERUNNER_* for every stage" },
      { path: "env.STAGERUNNER_RUN_ID", message: "STAGERUNNER_RUN_ID is reserved: Stagerunner sets CI and STAGERUNNER_* for every stage" },
      { path: "env.HAS_NUL", message: "HAS_NUL must not contain NUL characters" },
      { path: "env.HALF_PAIR", message: "HALF_PAIR must be valid Unicode" },
      { path: "env.TOO_LONG", message: "TOO_LONG must be at most 4096 bytes (UTF-8)" },
    ]);
    for (const value of [7, null, true, ["x"]])
      expect(fieldErrors(TriggerInput, { env: { PORT: value } }), JSON.stringify(value)).toEqual([{ path: "env.PORT", message: "PORT must be a string" }]);
  });

  it("refuses an env that is not an object of at most 50 entries, at env", () => {
    for (const env of [[], null, "A=1", 7])
      expect(fieldErrors(TriggerInput, { env }), JSON.stringify(env)).toEqual([{ path: "env", message: "env must be an object" }]);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`V${i}`, "x"]));
    expect(fieldErrors(TriggerInput, { env: many })).toEqual([{ path: "env", message: "env must have at most 50 variables" }]);
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
