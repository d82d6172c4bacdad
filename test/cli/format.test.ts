/** Human output, pinned on fixed values: the seed's `get-run` layout, progress lines and problems. */
import { describe, expect, it } from "vitest";
import { pipelineLines, problemLines, queuedLine, runDetail, runDuration, runLines, runOutcome, stageProgress } from "../../cli/client/format.ts";
import type { Pipeline, Run } from "../../lib/api/schemas.ts";

const t = (s: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, s)).toISOString();

const run: Run = {
  id: "11111111-1111-4111-8111-111111111111",
  pipeline_id: "22222222-2222-4222-8222-222222222222",
  git_ref: "main",
  env: {},
  status: "failed",
  stages: [
    { name: "run", status: "success", started_at: t(1), finished_at: t(2), attempts: 1, logs: ["$ make test", "ok"] },
    { name: "build", status: "failed", started_at: t(2), finished_at: t(4), attempts: 1, logs: ["$ docker build -f Dockerfile ."] },
    { name: "deploy", status: "skipped", started_at: null, finished_at: null, attempts: 0, logs: [] },
  ],
  error: "build stage failed",
  created_at: t(0),
  started_at: t(1),
  finished_at: t(4),
  updated_at: t(4),
  rerun_of: null,
  cancel_requested_at: null,
};

describe("format", () => {
  it("lays a run out as the seed's get-run did", () => {
    expect(runDetail(run)).toEqual([
      `Run: ID: ${run.id}`,
      `  PipelineID: ${run.pipeline_id}`,
      "  GitRef: main",
      "  Status: failed",
      "  Created: 2025-01-01T12:00:00.000Z",
      "  Started: 2025-01-01T12:00:01.000Z",
      "  Finished: 2025-01-01T12:00:04.000Z",
      "  Error: build stage failed",
      "  Stages:",
      "    run      success  2025-01-01T12:00:01.000Z -> 2025-01-01T12:00:02.000Z",
      "      $ make test",
      "      ok",
      "    build    failed   2025-01-01T12:00:02.000Z -> 2025-01-01T12:00:04.000Z",
      "      $ docker build -f Dockerfile .",
      "    deploy   skipped",
    ]);
    expect(runDetail({ ...run, error: null })).not.toContain("  Error: build stage failed");
    expect(runDetail(run).join("\n")).not.toContain("Env:");
  });

  it("shows a run's env under its ref, a value with a newline quoted so that it stays on its line", () => {
    const lines = runDetail({ ...run, env: { DEPLOY_ENV: "staging", NOTE: "two\nlines", URL: "https://x/?a=b" } });
    expect(lines.slice(2, 7)).toEqual(["  GitRef: main", "  Env:", "    DEPLOY_ENV=staging", '    NOTE="two\\nlines"', "    URL=https://x/?a=b"]);
  });

  it("prints progress and the outcome with durations", () => {
    expect(run.stages.map(stageProgress)).toEqual(["  run      success (1.0 s)", "  build    failed (2.0 s)", "  deploy   skipped"]);
    expect(runOutcome(run)).toBe(`Run ${run.id} failed in 3.0 s: build stage failed`);
  });

  it("lists runs under a header, with the pipeline's name and how long each ran", () => {
    const queued: Run = { ...run, id: "q", git_ref: "feature/long-name", status: "queued", started_at: null, finished_at: null };
    const orphan: Run = { ...run, id: "o", pipeline_id: "gone", status: "running", finished_at: null };
    expect(runLines([run, queued, orphan], new Map([[run.pipeline_id, "shop"]]), Date.parse(t(76)))).toEqual([
      "ID                                    PIPELINE  REF                STATUS   DURATION  CREATED",
      `${run.id}  shop      main               failed   3.0s      ${t(0)}`,
      `q                                     shop      feature/long-name  queued   -         ${t(0)}`,
      `o                                     -         main               running  1m15s     ${t(0)}`,
    ]);
    expect(runLines([], new Map())).toEqual(["No runs."]);
    expect(runDuration({ ...run, finished_at: new Date(Date.parse(t(1)) + 7_384_000).toISOString() }, 0)).toBe("2h03m");
  });

  it("says what a queued run waits for", () => {
    const queued: Run = { ...run, status: "queued", started_at: null, finished_at: null, queue_position: 2, waiting_for: `run ${run.pipeline_id}` };
    expect(queuedLine(queued)).toBe(`Run ${run.id} is queued, waiting for run ${run.pipeline_id} (position 2 in its pipeline's queue)`);
    expect(queuedLine({ ...queued, queue_position: undefined, waiting_for: "a free worker" })).toBe(`Run ${run.id} is queued, waiting for a free worker`);
  });

  it("lines pipelines up in columns with their stage kinds", () => {
    const p = (id: string, name: string, stages: Pipeline["stages"]): Pipeline => ({ id, name, repository: "r", stages, concurrency: "queue", created_at: t(0), updated_at: t(0) });
    expect(
      pipelineLines([p("a", "short", { deploy_stage: { cluster_name: "c", manifest_path: "m" } }), p("b", "longer-name", { run_stage: { command: "x" }, build_stage: { dockerfile_path: "D" } })]),
    ).toEqual(["a  short        r  deploy", "b  longer-name  r  run,build"]);
    expect(pipelineLines([])).toEqual(["No pipelines."]);
  });

  it("prints a problem with one line per field error", () => {
    const problem = { type: "about:blank", title: "Bad Request", status: 400, detail: "request body is invalid", errors: [{ path: "name", message: "name is required" }] };
    expect(problemLines(problem)).toEqual(["error: 400 Bad Request: request body is invalid", "  name: name is required"]);
    expect(problemLines({ type: "about:blank", title: "Internal Server Error", status: 500 })).toEqual(["error: 500 Internal Server Error"]);
  });
});
