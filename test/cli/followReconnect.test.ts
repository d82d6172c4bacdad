/**
 * `logs --follow` as a process against a stub API that drops connections and answers 503: it resumes
 * after the last line it printed (none lost, none repeated), exits with the run's result, and gives up
 * with exit 3 and one line once --retry-s has passed.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { cli } from "./harness.ts";
import { RUN_ID, stubApi, type Step } from "./stubApi.ts";

async function follow(steps: Step[], retryS: string, outcome?: "success" | "failed", flags = ["--follow"]) {
  const stub = await stubApi(steps, outcome);
  onTestFinished(() => stub.close());
  const result = await cli(["client", "--url", stub.url, "--token", "t", "logs", RUN_ID, ...flags, "--retry-s", retryS]);
  return { ...result, afters: stub.afters };
}

const ALL_LINES = ["  run      running", "      $ make test", "      ok", "  run      success (0.0 s)", "  build    running", "      $ docker build -f Dockerfile .", "      built"];

describe("logs --follow through an unreliable connection", { timeout: 30_000 }, () => {
  it("reconnects after a dropped connection and a 503, resuming after the last line shown", async () => {
    const result = await follow([{ upTo: 2 }, "drop", "unavailable", { upTo: 4 }], "10");
    // The last request, after the last line, finds the run finished with nothing more.
    expect(result.afters).toEqual([0, 2, 2, 2, 4]);
    expect(result.stdout.trimEnd().split("\n")).toEqual([...ALL_LINES, "  build    success (0.0 s)", `Run ${RUN_ID} success in 0.0 s`]);
    expect(result.stderr).toMatch(/^connection lost \(cannot reach Stagerunner at http:\S+: [^)]+\); retrying for up to 10 s\n$/);
    expect(result.code).toBe(0);
  });

  it("reads a finished run's every page, with or without --follow", async () => {
    const steps: Step[] = [{ upTo: 2, done: true }, { upTo: 4 }];
    const [followed, shown] = await Promise.all([follow(steps, "10"), follow(steps, "10", "success", [])]);
    for (const result of [followed, shown]) {
      expect(result.afters).toEqual([0, 2, 4]);
      expect(result.stdout.trimEnd().split("\n")).toEqual([...ALL_LINES, "  build    success (0.0 s)", `Run ${RUN_ID} success in 0.0 s`]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
    }
  });

  it("exits 1 with the run's error when the run fails", async () => {
    const result = await follow([{ upTo: 4 }], "10", "failed");
    expect(result.stdout.trimEnd().split("\n").slice(-2)).toEqual(["  build    failed (0.0 s)", `Run ${RUN_ID} failed in 0.0 s: build stage failed`]);
    expect(result).toMatchObject({ code: 1, stderr: "" });
  });

  it("gives up with exit 3 and one line once --retry-s has passed", async () => {
    const result = await follow([{ upTo: 3 }, "unavailable"], "1");
    expect(result.stdout.trimEnd().split("\n")).toEqual(ALL_LINES.slice(0, 6));
    const [lost, gaveUp, ...rest] = result.stderr.split("\n");
    expect(lost).toBe("connection lost (503 Service Unavailable: database unreachable); retrying for up to 1 s");
    expect(gaveUp).toBe("error: 503 Service Unavailable: database unreachable; gave up after 1 s of retrying");
    expect(rest).toEqual([""]);
    expect(result.code).toBe(3);
    // Every retry asked for the lines after the last one shown: after 0.5 s, then after the 0.5 s left.
    expect(result.afters.slice(0, 4)).toEqual([0, 3, 3, 3]);
    expect(result.afters.slice(4)).toEqual(result.afters.slice(4).map(() => 3));
  });
});
