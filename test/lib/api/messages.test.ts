/**
 * Validation messages are the project's own wording, naming the field: none of zod's ("Too small:
 * expected string to have >=1 characters", "Invalid input: expected object, received array").
 */
import { describe, expect, it } from "vitest";
import type * as z from "zod/mini";
import { ValidationError } from "../../../lib/api/errors.ts";
import { IdParam, ListPipelinesQuery, ListRunsQuery, PipelineInput, Run, TriggerInput } from "../../../lib/api/schemas.ts";
import { seedPipeline } from "../../support/fixtures.ts";

const messages = (schema: z.ZodMiniType, value: unknown): string[] => {
  const result = schema.safeParse(value);
  return result.success ? [] : (new ValidationError("input", result.error).errors ?? []).map((e) => `${e.path}: ${e.message}`);
};

/** zod's English phrasings, which no client should see. */
const ZOD_WORDING = /Invalid input|Invalid option|Too (small|big)|expected .* received|Unrecognized|>=|<=/;

describe("validation messages", () => {
  it.each([
    ["a missing field", PipelineInput, { name: "n", stages: seedPipeline.stages }, ["repository: repository is required"]],
    ["a wrong type", PipelineInput, { ...seedPipeline, stages: { run_stage: { command: [1] } } }, ["stages.run_stage.command: command must be a string"]],
    ["an empty string", PipelineInput, { ...seedPipeline, stages: { build_stage: { dockerfile_path: " " } } }, ["stages.build_stage.dockerfile_path: dockerfile_path must not be empty"]],
    ["a string over its limit", PipelineInput, { ...seedPipeline, name: "n".repeat(201) }, ["name: name must be at most 200 characters"]],
    ["stages not an object", PipelineInput, { ...seedPipeline, stages: "run" }, ["stages: stages must be an object"]],
    ["no body", PipelineInput, undefined, ["(root): request body is required"]],
    ["a body that is an array", TriggerInput, [], ["(root): request body must be a JSON object"]],
    ["an empty cursor", ListPipelinesQuery, { cursor: "" }, ["cursor: cursor must not be empty"]],
    ["a long cursor", ListPipelinesQuery, { cursor: "c".repeat(201) }, ["cursor: cursor must be at most 200 characters"]],
    ["an unknown status", ListRunsQuery, { status: "done" }, ["status: status must be one of queued, running, success, failed, cancelled"]],
    ["a bad pipeline_id", ListRunsQuery, { pipeline_id: "nope" }, ["pipeline_id: pipeline_id must be a UUID"]],
    ["a limit in exponent form", ListRunsQuery, { limit: "1e2" }, ["limit: limit must be a whole number"]],
    ["a limit over 1000", ListRunsQuery, { limit: "1001" }, ["limit: limit must be at most 1000"]],
    ["a limit of 0", ListRunsQuery, { limit: "0" }, ["limit: limit must be at least 1"]],
    ["a git_ref of the wrong type", TriggerInput, { git_ref: null }, ["git_ref: git_ref must be a string"]],
    ["a git_ref over 255 characters", TriggerInput, { git_ref: "r".repeat(256) }, ["git_ref: git_ref must be at most 255 characters"]],
  ])("words %s itself", (_what, schema, value, expected) => {
    expect(messages(schema, value)).toEqual(expected);
  });

  it("words issues no input schema has (an output schema's) without zod's phrasing", () => {
    const bad = { id: "x", pipeline_id: 1, git_ref: "", status: "nope", stages: [{ name: "lint", logs: [2] }], error: 3, created_at: "yesterday" };
    const all = messages(Run, bad);
    expect(all.length).toBeGreaterThan(5);
    for (const message of all) expect(message).not.toMatch(ZOD_WORDING);
    expect(all).toEqual(expect.arrayContaining(["stages.0.logs.0: logs must be a string", "created_at: created_at must be a valid datetime"]));
  });
});

describe("ids and limits", () => {
  it("takes an upper-case UUID (RFC 9562 allows it) as lower case, and the nil and max UUIDs", () => {
    expect(IdParam.parse("0D5F1C9A-3B2E-4F6A-9C8D-7E6F5A4B3C2D")).toBe("0d5f1c9a-3b2e-4f6a-9c8d-7e6f5a4b3c2d");
    expect(IdParam.parse("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF")).toBe("ffffffff-ffff-ffff-ffff-ffffffffffff");
    expect(ListRunsQuery.parse({ pipeline_id: "0D5F1C9A-3B2E-4F6A-9C8D-7E6F5A4B3C2D" }).pipeline_id).toBe("0d5f1c9a-3b2e-4f6a-9c8d-7e6f5a4b3c2d");
  });

  it("takes a limit only as plain decimal digits", () => {
    for (const limit of ["1e2", "0x10", "+5", " 5", "5 ", "5.0", "", "٣"]) expect(messages(ListRunsQuery, { limit }), JSON.stringify(limit)).toEqual(["limit: limit must be a whole number"]);
    expect(ListRunsQuery.parse({ limit: "0010" }).limit).toBe(10);
  });
});
