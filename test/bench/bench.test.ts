/**
 * The bench cannot rot: `npm run bench -- --tiny` runs every part on tiny sizes and must complete with
 * the queue's rules held and every target computed. No timing is asserted: speed is measured, not tested.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import type { Results } from "../../bench/results.ts";

it("runs every bench part on tiny sizes, holds the queue's rules and checks every target", { timeout: 90_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "stagerunner-bench-"));
  try {
    const out = join(dir, "results.json");
    const main = new URL("../../bench/main.ts", import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", main, "--tiny", "--out", out]);
    expect(stdout).toMatch(/Targets/);
    const r = JSON.parse(await readFile(out, "utf8")) as Results;

    expect(r.queue!.sweep).toHaveLength(2 * 2 * 2);
    for (const point of [...r.queue!.sweep, ...r.latency!.load.points, r.latency!.idle]) {
      expect(point.maxConcurrentPerPipeline).toBe(1);
      expect(point.outOfOrder).toBe(0);
    }
    expect(r.queue!.sweep.every((p) => p.runsPerSecond > 0)).toBe(true);
    expect(r.queue!.baseline.every((b) => b.ratio > 0 && b.engineRunsPerSecond > 0)).toBe(true);
    expect(r.latency!.idle).toMatchObject({ runs: 100 });
    expect(r.latency!.idle.wait.p99).toBeGreaterThan(0);

    expect(r.http!.points).toHaveLength(6);
    for (const p of r.http!.points) {
      expect(p.requests > 0 && p.errors === 0 && p.non2xx === 0).toBe(true);
      expect(p.cpuRounds).toHaveLength(p.rounds.length);
      expect(p.cpuRounds.every((cpu) => cpu > 0)).toBe(true);
    }
    expect(r.handlers!.length).toBeGreaterThan(5);

    // Past the retention limit, the store holds exactly that many finished runs.
    expect(r.retention).toMatchObject({ runs: 14_000, retainRuns: 10_000, kept: 10_000 });
    expect(r.retention!.samples.at(-1)!.runs).toBe(14_000);
    expect(r.retention!.heapBytesPerKeptRun).toBeGreaterThan(100);

    expect(r.coldstart!.bundles.length).toBeGreaterThan(5);
    expect(r.coldstart!.bundles.every((b) => b.bytes > 0 && b.medianMs > 0)).toBe(true);

    // Run control: every cancel and line measured, in memory at least (PostgreSQL when it is reachable).
    const memory = r.runControl!.find((p) => p.store === "memory")!;
    expect(memory).toMatchObject({ cancels: 5, lines: 20 });
    expect([memory.cancel.p99, memory.sse.p99, memory.longPoll.p99].every((ms) => ms > 0)).toBe(true);
    expect(r.shell!.map((p) => [p.command, p.runs])).toEqual([["true", 3], ["seq 100000", 3]]);
    expect(r.shell!.every((p) => p.exit.p50 > 0 && p.bare.p50 > 0 && p.recorded.p50 >= 0)).toBe(true);
    expect(r.shell![1]!.firstLine!.p50).toBeGreaterThan(0);

    const names = r.targets!.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining([
      "CPU per request, GET /pipelines/{id}: bare Express / emulator",
      "trigger-to-start p99 with idle workers, in memory (ms)",
      "RSS under retention: highest / first sample after warm-up",
      "largest handler bundle (KB)",
      "slowest handler cold start over an empty module (ms)",
      "cancel, request to cancelled, p99, memory (ms)",
      "log line to SSE client, p99, memory (ms)",
    ]));
    expect(r.targets!.every((t) => Number.isFinite(t.value))).toBe(true);
    if (r.postgres) {
      expect(r.postgres.points.map((p) => p.engine).sort()).toEqual(["graphile-worker", "stagerunner"]);
      expect(r.postgres.points.every((p) => p.jobsPerSecond > 0 && p.latency.p99 >= 0)).toBe(true);
      // Alternating rounds, each engine's the same number, which the ratio pairs up.
      expect(r.postgres.points.map((p) => p.rounds.length)).toEqual([2, 2]);
      expect(names).toContain("PostgreSQL runs/s vs graphile-worker named queues, 1 process(es)");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
