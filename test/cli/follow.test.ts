/**
 * Following runs in-process against the emulator: what is printed and in which order, the queue
 * notice, a cancelled run's end, `logs` without --follow, and stopping on an abort.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StagerunnerApi } from "../../cli/client/api.ts";
import { followRun, Interrupted, type FollowOptions } from "../../cli/client/follow.ts";
import { StageProgress } from "../../cli/client/progress.ts";
import type { RunningServer } from "../../local/server.ts";
import { runOnly, seedPipeline } from "../support/fixtures.ts";
import { startTestServer, TOKEN } from "./harness.ts";

let fast: RunningServer;
let slow: RunningServer;

beforeAll(async () => {
  [fast, slow] = await Promise.all([
    startTestServer({ stageDurationMs: "30" }),
    // Stages that outlast every test: a run stays running until cancelled.
    startTestServer({ stageDurationMs: "60000" }),
  ]);
});
afterAll(() => Promise.all([fast.close(0), slow.close(0)]));

const apiOf = (server: RunningServer) => new StagerunnerApi(server.url, { token: TOKEN });

/** Follows `runId` collecting stdout-like lines (`out`) and notices (`notes`). */
function recorder(extra: Partial<FollowOptions> = {}) {
  const out: string[] = [];
  const notes: string[] = [];
  const opts: FollowOptions = { view: new StageProgress((l) => out.push(l)), retryMs: 0, notify: (l) => notes.push(l), ...extra };
  return { out, notes, opts };
}

const timesOut = (lines: string[]) => lines.map((l) => l.replace(/\d+\.\d s/, "N s"));

describe("followRun", { timeout: 20_000 }, () => {
  it("prints each stage's status change and each log line once, in order", async () => {
    const api = apiOf(fast);
    const { id } = await api.createPipeline(seedPipeline);
    const { out, notes, opts } = recorder();
    const run = await followRun(api, await api.triggerPipeline(id, "main"), opts);
    expect(run.status).toBe("success");
    expect(notes).toEqual([]);
    expect(timesOut(out)).toEqual(
      ["run", "build", "deploy"].flatMap((stage, i) => [
        `  ${stage.padEnd(8)} running`,
        ["      $ some command", "      $ docker build -f Dockerfile .", "      $ kubectl --context staging_eks_cluster apply -f k8s/"][i],
        "      simulated: done in 30 ms",
        `  ${stage.padEnd(8)} success (N s)`,
      ]),
    );
  });

  it("says once what a queued run waits for, and ends a cancelled run with its stages' ends", async () => {
    const api = apiOf(slow);
    const { id } = await api.createPipeline(runOnly("queued-behind"));
    const first = await api.triggerPipeline(id);
    const second = await api.triggerPipeline(id);
    const { out, notes, opts } = recorder();
    const following = followRun(api, second, opts);
    await expect.poll(() => notes.length, { timeout: 5000 }).toBe(1);
    expect(notes[0]).toBe(`Run ${second.id} is queued, waiting for run ${first.id} (position 1 in its pipeline's queue)`);
    await api.cancelRun(second.id, "not needed");
    expect(await following).toMatchObject({ status: "cancelled", error: "cancelled: not needed" });
    expect(out).toEqual(["  run      skipped"]);

    // The running one: its stage is shown running with its first line, then cancelled.
    const { out: out1, opts: opts1 } = recorder();
    const following1 = followRun(api, first, opts1);
    await expect.poll(() => out1.length).toBe(2);
    await api.cancelRun(first.id);
    expect((await following1).status).toBe("cancelled");
    expect(timesOut(out1)).toEqual(["  run      running", "      $ make test", "  run      cancelled (N s)"]);
  });

  it("without follow shows the lines there are and returns", async () => {
    const api = apiOf(slow);
    const { id } = await api.createPipeline(runOnly("shown-so-far"));
    const run = await api.triggerPipeline(id);
    await expect.poll(async () => (await api.getRunLogs(run.id, { after: 0 })).lines.length).toBe(1);
    const { out, opts } = recorder({ follow: false });
    expect((await followRun(api, run, opts)).status).toBe("running");
    expect(out).toEqual(["  run      running", "      $ make test"]);
    await api.cancelRun(run.id);
  });

  it("stops at once when its signal is aborted", async () => {
    const api = apiOf(slow);
    const { id } = await api.createPipeline(runOnly("aborted"));
    const run = await api.triggerPipeline(id);
    const controller = new AbortController();
    const following = followRun(api, run, recorder({ signal: controller.signal }).opts);
    controller.abort(new Interrupted());
    await expect(following).rejects.toBeInstanceOf(Interrupted);
    await api.cancelRun(run.id);
  });
});
