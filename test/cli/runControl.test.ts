/**
 * The run-control commands as processes against the emulator: cancel, rerun --wait, logs (--follow,
 * --json), get-run --wait, pipelines by name, and the exit status of each outcome.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StagerunnerApi } from "../../cli/client/api.ts";
import { LogLine } from "../../lib/api/schemas.ts";
import type { RunningServer } from "../../local/server.ts";
import { runOnly } from "../support/fixtures.ts";
import { client, startTestServer, TOKEN } from "./harness.ts";

let fast: RunningServer;
let slow: RunningServer;
let fastApi: StagerunnerApi;
let slowApi: StagerunnerApi;

beforeAll(async () => {
  [fast, slow] = await Promise.all([startTestServer({ stageDurationMs: "30" }), startTestServer({ stageDurationMs: "60000" })]);
  fastApi = new StagerunnerApi(fast.url, { token: TOKEN });
  slowApi = new StagerunnerApi(slow.url, { token: TOKEN });
});
afterAll(() => Promise.all([fast.close(0), slow.close(0)]));

const lines = (stdout: string) => stdout.trimEnd().split("\n");

describe("run control from the CLI", { timeout: 30_000 }, () => {
  it("cancels a running run (its follower exits 1 with the reason) and refuses a finished one", async () => {
    const { id } = await slowApi.createPipeline(runOnly("to-cancel"));
    const run = await slowApi.triggerPipeline(id);
    await expect.poll(async () => (await slowApi.getRun(run.id)).status).toBe("running");
    const following = client(slow, ["logs", run.id, "--follow"]);
    const cancelled = await client(slow, ["cancel", run.id, "--reason", "wrong branch"]);
    expect(cancelled).toMatchObject({ code: 0, stderr: "", stdout: `Cancel requested for run ${run.id}; it ends once its worker has stopped it.\n` });
    const followed = await following;
    expect(followed).toMatchObject({ code: 1, stderr: "" });
    expect(lines(followed.stdout)).toEqual(["  run      running", "      $ make test", expect.stringMatching(/^ {2}run {6}cancelled \(/), expect.stringMatching(/^Run \S+ cancelled in \S+ s: cancelled: wrong branch$/)]);
    const again = await client(slow, ["cancel", run.id]);
    expect(again).toMatchObject({ code: 1, stdout: "", stderr: `error: 409 Conflict: run ${run.id} has already finished (cancelled)\n` });
  });

  it("reruns a run and follows the new one to its end", async () => {
    const { id } = await fastApi.createPipeline(runOnly("to-rerun"));
    const first = await fastApi.triggerPipeline(id);
    await expect.poll(async () => (await fastApi.getRun(first.id)).status).toBe("success");
    const result = await client(fast, ["rerun", first.id, "--wait"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [said, ...rest] = lines(result.stdout);
    const rerunId = /^Rerun of run \S+ queued\. Run ID: (\S+)$/.exec(said!)?.[1];
    expect(said).toContain(`Rerun of run ${first.id} queued.`);
    expect(rest).toEqual(["  run      running", "      $ make test", "      simulated: done in 30 ms", expect.stringMatching(/^ {2}run {6}success/), expect.stringMatching(new RegExp(`^Run ${rerunId} success in`))]);
    expect((await fastApi.getRun(rerunId!)).rerun_of).toBe(first.id);
  });

  it("get-run --wait prints the finished run; logs --json prints one line object a line", async () => {
    const { id } = await fastApi.createPipeline(runOnly("waited-for"));
    const run = await fastApi.triggerPipeline(id);
    const waited = await client(fast, ["get-run", run.id.toUpperCase(), "--wait"]);
    expect(waited).toMatchObject({ code: 0, stderr: "" });
    expect(lines(waited.stdout).slice(0, 4)).toEqual([`Run: ID: ${run.id}`, `  PipelineID: ${id}`, "  GitRef: main", "  Status: success"]);
    const json = await client(fast, ["logs", run.id, "--json"]);
    expect(json).toMatchObject({ code: 0, stderr: "" });
    expect(lines(json.stdout).map((l) => LogLine.parse(JSON.parse(l))).map((l) => [l.seq, l.stage, l.text])).toEqual([
      [1, "run", "$ make test"],
      [2, "run", "simulated: done in 30 ms"],
    ]);
  });

  it("takes a pipeline's name for its id: refuses an unknown or shared name, exit 1", async () => {
    const one = await fastApi.createPipeline(runOnly("named-once"));
    const twins = [await fastApi.createPipeline(runOnly("named-twice")), await fastApi.createPipeline(runOnly("named-twice"))];
    const [byName, unknown, shared] = await Promise.all([
      client(fast, ["trigger", "named-once", "v1", "--wait"]),
      client(fast, ["get", "no-such-pipeline"]),
      client(fast, ["list-runs", "--pipeline", "named-twice"]),
    ]);
    expect(byName).toMatchObject({ code: 0, stderr: "" });
    expect((await fastApi.listRuns({ pipeline_id: one.id })).items.map((r) => r.git_ref)).toEqual(["v1"]);
    expect(unknown).toMatchObject({ code: 1, stdout: "", stderr: "error: no pipeline named no-such-pipeline\n" });
    expect(shared).toMatchObject({ code: 1, stdout: "", stderr: `error: 2 pipelines are named named-twice; give one of their ids: ${twins.map((p) => p.id).join(", ")}\n` });
  });

  it("lists runs under a header with pipeline name, ref, status and duration", async () => {
    const { id } = await fastApi.createPipeline(runOnly("listed"));
    const done = await fastApi.triggerPipeline(id, "feature/x");
    await expect.poll(async () => (await fastApi.getRun(done.id)).status).toBe("success");
    const result = await client(fast, ["list-runs", "--pipeline", "listed"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(lines(result.stdout)).toEqual([
      `ID${" ".repeat(36)}PIPELINE  REF        STATUS   DURATION  CREATED`,
      expect.stringMatching(new RegExp(`^${done.id}  listed    feature/x  success  \\d+\\.\\ds {2,}\\S+Z$`)),
    ]);
  });

  it("logs --follow of an unknown run is the API refusing: exit 1", async () => {
    const result = await client(fast, ["logs", "01a24d00-0000-7000-8000-00000000dead", "--follow"]);
    expect(result).toMatchObject({ code: 1, stdout: "", stderr: "error: 404 Not Found: run 01a24d00-0000-7000-8000-00000000dead not found\n" });
  });
});
