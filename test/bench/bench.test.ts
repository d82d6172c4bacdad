/**
 * The bench cannot rot: `npm run bench -- --tiny` runs every part on tiny sizes and must complete with
 * the one-run-per-pipeline check held. No timing is asserted: speed is measured, not tested.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import type { Results } from "../../bench/results.ts";

it("runs every bench part on tiny sizes and never sees two runs of one pipeline at once", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "stagerunner-bench-"));
  try {
    const out = join(dir, "results.json");
    const main = new URL("../../bench/main.ts", import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", main, "--tiny", "--out", out]);
    expect(stdout).toMatch(/Queue sweep/);
    const results = JSON.parse(await readFile(out, "utf8")) as Results;
    expect(results.queue!.sweep.length).toBe(2 * 2 * 2);
    for (const point of [...results.queue!.sweep, ...results.latency!.points]) {
      expect(point.maxConcurrentPerPipeline).toBe(1);
      expect(point.outOfOrder).toBe(0);
    }
    expect(results.queue!.sweep.every((p) => p.runsPerSecond > 0)).toBe(true);
    expect(results.latency!.points.every((p) => p.runs > 0 && p.wait.p99 >= 0)).toBe(true);
    expect(results.queue!.baseline.every((b) => b.ratio > 0)).toBe(true);
    expect(results.http!.points.map((p) => `${p.target} ${p.request}`)).toHaveLength(6);
    expect(results.http!.points.every((p) => p.requests > 0 && p.errors === 0 && p.non2xx === 0)).toBe(true);
    expect(results.handlers!.length).toBeGreaterThan(5);
    expect(results.kept).toMatchObject({ runs: 2000 });
    expect(results.kept!.fillRunsPerSecond).toBeGreaterThan(0);
    expect(results.targets!.map((t) => t.name)).toEqual(expect.arrayContaining([
      "engine/baseline runs/s at D=0 (median)",
      "trigger-to-start p99 at 50% load (ms)",
      "emulator/bare Express GET /pipelines/{id} req/s",
    ]));
    if (results.postgres) {
      expect(results.postgres.points.map((p) => p.engine).sort()).toEqual(["graphile-worker", "stagerunner"]);
      expect(results.postgres.points.every((p) => p.jobsPerSecond > 0 && p.latency.p99 >= 0)).toBe(true);
      // Alternating rounds, each engine's the same number, which the ratio pairs up.
      expect(results.postgres.points.map((p) => p.rounds.length)).toEqual([2, 2]);
      expect(results.targets!.map((t) => t.name)).toContain("PostgreSQL runs/s vs graphile-worker named queues, 1 process(es)");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
