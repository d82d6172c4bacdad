/**
 * `trigger --wait` when the run does not succeed: a failing stage gives exit 1 with the run's error,
 * and Ctrl-C stops following (exit 130) and says that the run goes on.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StagerunnerApi } from "../../cli/client/api.ts";
import type { RunningServer } from "../../local/server.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { bin, cleanEnv, client, startTestServer, TOKEN } from "./harness.ts";

let failing: RunningServer;
let slow: RunningServer;

beforeAll(async () => {
  [failing, slow] = await Promise.all([
    startTestServer({ failureProbability: "1" }),
    // Stages that outlast the test, so that the run is still going when the client is interrupted.
    startTestServer({ stageDurationMs: "60000" }),
  ]);
});
afterAll(() => Promise.all([failing.close(0), slow.close(0)]));

describe("stagerunner client trigger --wait", { timeout: 30_000 }, () => {
  it("exits 1 and shows the error when the run fails", async () => {
    const { id } = await new StagerunnerApi(failing.url, { token: TOKEN }).createPipeline(seedPipeline);
    // --interval-ms is from the polling days: still accepted, so that scripts that pass it keep working.
    const result = await client(failing, ["trigger", id, "feature/x", "--wait", "--interval-ms", "10"]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toContain("      simulated failure: exit status 1");
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}run {6}failed \(\d+\.\d s\)$/));
    expect(lines.at(-1)).toMatch(/^Run \S+ failed in \d+\.\d s: run stage failed \(simulated, exit status 1\)$/);
  });

  it("stops on SIGINT with exit 130 and leaves the run going", async () => {
    const api = new StagerunnerApi(slow.url, { token: TOKEN });
    const { id } = await api.createPipeline(seedPipeline);
    const args = ["client", "--url", slow.url, "--token", TOKEN, "trigger", id, "--wait"];
    const child = spawn(process.execPath, [bin, ...args], { env: cleanEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = once(child, "exit");
    while (!stdout.includes("      $ some command")) await once(child.stdout, "data");
    child.kill("SIGINT");
    const [code] = await exited;
    const runId = /Run ID: (\S+)/.exec(stdout)![1]!;
    expect(code).toBe(130);
    expect(stderr).toBe(`stopped following run ${runId}; it goes on on the server (stagerunner client get-run ${runId})\n`);
    expect((await api.getRun(runId)).status).toBe("running");
  });
});
