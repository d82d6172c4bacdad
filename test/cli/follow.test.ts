/** Following runs in-process: what is printed, in which order, and stopping on an abort. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StagerunnerApi } from "../../cli/client/api.ts";
import { followRun, Interrupted } from "../../cli/client/follow.ts";
import type { RunningServer } from "../../local/server.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { startTestServer, TOKEN } from "./harness.ts";

let server: RunningServer;
let api: StagerunnerApi;

beforeAll(async () => {
  // Stages long enough for a 5 ms poll to see each one running, even on a busy machine.
  server = await startTestServer({ stageDurationMs: "150" });
  api = new StagerunnerApi(server.url, { token: TOKEN });
});
afterAll(() => server.close(0));

describe("followRun", () => {
  it("prints each stage's status change and new log lines once, in order", async () => {
    const { id } = await api.createPipeline(seedPipeline);
    const lines: string[] = [];
    const run = await followRun(api, await api.triggerPipeline(id, "main"), { intervalMs: 5, print: (l) => lines.push(l), prefix: "> " });
    expect(run.status).toBe("success");
    expect(lines.map((l) => l.replace(/\d+\.\d s/, "N s"))).toEqual([
      "> " + "  run      running",
      "> " + "      $ some command",
      "> " + "      simulated: done in 150 ms",
      "> " + "  run      success (N s)",
      "> " + "  build    running",
      "> " + "      $ docker build -f Dockerfile .",
      "> " + "      simulated: done in 150 ms",
      "> " + "  build    success (N s)",
      "> " + "  deploy   running",
      "> " + "      $ kubectl --context staging_eks_cluster apply -f k8s/",
      "> " + "      simulated: done in 150 ms",
      "> " + "  deploy   success (N s)",
    ]);
  });

  it("stops at once when its signal is aborted", async () => {
    const { id } = await api.createPipeline(seedPipeline);
    const controller = new AbortController();
    const following = followRun(api, await api.triggerPipeline(id), { intervalMs: 5, signal: controller.signal, print: () => {} });
    controller.abort(new Interrupted());
    await expect(following).rejects.toBeInstanceOf(Interrupted);
  });
});
