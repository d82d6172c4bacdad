/**
 * The worker function: runs queued runs until none is left, or until the time left would not cover
 * another stage, handing that run back instead of starting a stage it could not finish.
 */
import { describe, expect, it } from "vitest";
import { runWorker, SAFETY_MARGIN_MS, stageBudget } from "../../handlers/runWorker.ts";
import { loadConfig } from "../../lib/config/settings.ts";
import { workerSettings } from "../../lib/config/workerSettings.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";
import type { Store } from "../../lib/store/store.ts";
import { simulateRunner } from "../../lib/worker/stageRunner.ts";
import { ManualClock } from "../support/manualClock.ts";
import { wrapStore } from "../support/storeWrappers.ts";
import { seedPipeline } from "../support/fixtures.ts";

/** A context whose remaining time runs out on the manual clock. */
const contextUntil = (clock: ManualClock, deadline: number) => ({
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => deadline - clock.now(),
});

/** Stages of 1 s, simulated. */
const simulated = (clock: ManualClock) => ({
  runner: simulateRunner({ clock, durationMs: 1000, failureProbability: 0 }),
  stageBudgetMs: () => 1000,
});

/** The memory store, but durable, so handed-back runs are requeued as on PostgreSQL. */
const durable = (inner: MemoryStore): Store => Object.defineProperty(wrapStore(inner, {}), "durable", { value: true });

async function drive(clock: ManualClock, until: Promise<unknown>): Promise<void> {
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    if (!done) clock.advance(100);
  }
}

describe("runWorker", () => {
  it("runs everything queued and stops when idle, with a summary", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const pipeline = await store.createPipeline(seedPipeline);
    for (let i = 0; i < 3; i++) await store.triggerRun(pipeline.id, "main");
    const summary = runWorker(contextUntil(clock, clock.now() + 60_000), { store, clock, workers: 2, ...simulated(clock) });
    await drive(clock, summary);
    expect(await summary).toMatchObject({ success: 3, failed: 0, released: 0, stopped: "idle" });
    expect((await store.listRuns({ limit: 10 })).items.every((r) => r.status === "success")).toBe(true);
  });

  it("never starts a stage it cannot finish: the run is handed back for the next invocation", async () => {
    const clock = new ManualClock();
    const memory = new MemoryStore({ clock });
    const store = durable(memory);
    const pipeline = await store.createPipeline(seedPipeline);
    const run = (await store.triggerRun(pipeline.id, "main"))!;
    // Time for two 1-s stages plus the margin, not three.
    const summary = runWorker(contextUntil(clock, clock.now() + SAFETY_MARGIN_MS + 2_500), { store, clock, workers: 1, ...simulated(clock) });
    await drive(clock, summary);
    expect(await summary).toMatchObject({ success: 0, released: 1, stopped: "deadline" });
    const after = (await store.getRun(run.id))!;
    expect(after.status).toBe("queued");
    expect(after.stages.map((s) => s.status)).toEqual(["pending", "pending", "pending"]);
    expect(after.stages[0]!.logs[0]).toMatch(/not enough time left to run the deploy stage/);
  });

  it("recovers expired leases before it claims, so a pipeline a dead worker held runs in this invocation", async () => {
    const clock = new ManualClock();
    const memory = new MemoryStore({ clock });
    const pipeline = await memory.createPipeline(seedPipeline);
    const lost = (await memory.triggerRun(pipeline.id, "main"))!;
    const next = (await memory.triggerRun(pipeline.id, "main"))!;
    const dead = (await memory.claimRun("dead-worker"))!;
    const calls: string[] = [];
    const store = wrapStore(memory, {
      // What a durable store does for a lease that expired: the run ends failed and its pipeline is free.
      recoverExpired: async () => (calls.push("recover"), await memory.finishRun(dead, "failed", "worker lost: lease expired"), []),
      claimRun: (workerId) => (calls.push("claim"), memory.claimRun(workerId)),
    });
    const summary = runWorker(contextUntil(clock, clock.now() + 60_000), { store, clock, workers: 1, ...simulated(clock) });
    await drive(clock, summary);
    expect(await summary).toMatchObject({ success: 1, stopped: "idle" });
    expect(calls[0]).toBe("recover");
    expect((await memory.getRun(lost.id))!.status).toBe("failed");
    expect((await memory.getRun(next.id))!.status).toBe("success");
  });

  it("does nothing when invoked with too little time", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const pipeline = await store.createPipeline(seedPipeline);
    await store.triggerRun(pipeline.id, "main");
    const summary = await runWorker(contextUntil(clock, clock.now() + SAFETY_MARGIN_MS), { store, clock, workers: 1, ...simulated(clock) });
    expect(summary).toMatchObject({ success: 0, released: 0, stopped: "deadline" });
    expect((await store.listRuns({ limit: 1, status: "queued" })).items).toHaveLength(1);
  });
});

describe("stageBudget", () => {
  const config = loadConfig(workerSettings, { stageDurationMs: "2000", stageTimeoutS: "600", killGraceMs: "5000" }, {});
  it("is the simulated duration, or with the shell executor the stage's time limit and the kill grace, every attempt counted", () => {
    expect(stageBudget(config)({ kind: "run", command: "make" })).toBe(2000);
    const shell = { ...config, executor: "shell" as const };
    expect(stageBudget(shell)({ kind: "run", command: "make" })).toBe(605_000);
    expect(stageBudget(shell)({ kind: "run", command: "make", timeout_seconds: 60 })).toBe(65_000);
    // Two retries: three attempts, and back-offs of 1 s and 2 s between them.
    expect(stageBudget(shell)({ kind: "run", command: "make", timeout_seconds: 60, retries: 2 })).toBe(3 * 65_000 + 3000);
  });
});
