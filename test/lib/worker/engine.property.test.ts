/**
 * Property: whatever mix of triggers, pipeline deletions, stage outcomes and passing time, the
 * MemoryStore + WorkerPool keep the queue's promises — one running run per pipeline at any instant,
 * each pipeline's runs start in trigger order, an idle worker never leaves claimable work waiting,
 * and once time has run out every run is terminal.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../lib/store/memory/memoryStore.ts";
import { isTerminal, type StageSpec } from "../../../lib/store/stages.ts";
import type { PipelineInput, Run } from "../../../lib/api/schemas.ts";
import type { StageRunner } from "../../../lib/worker/stageRunner.ts";
import { WorkerPool } from "../../../lib/worker/pool.ts";
import { ManualClock, sequentialIds, settle } from "../../support/manualClock.ts";
import { wrapStore } from "../../support/storeWrappers.ts";

type Op = { kind: "trigger"; pipeline: number } | { kind: "delete"; pipeline: number } | { kind: "advance"; ms: number };

interface Outcome {
  ms: number;
  fail: boolean;
}

interface Scenario {
  /** Number of stages (1–3) of each pipeline; 1–6 pipelines. */
  stageCounts: number[];
  size: number;
  ops: Op[];
  /** Consumed in turn by the stages the pool runs, cycling. */
  outcomes: Outcome[];
  /** After the operations: drain (null), or stop at once with this grace period. */
  stopGraceMs: number | null;
}

const scenarios: fc.Arbitrary<Scenario> = fc.record({
  stageCounts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }),
  size: fc.integer({ min: 1, max: 5 }),
  ops: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("trigger" as const), pipeline: fc.nat(5) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), pipeline: fc.nat(5) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 120 }) }) },
    ),
    { maxLength: 40 },
  ),
  outcomes: fc.array(
    fc.record({ ms: fc.integer({ min: 0, max: 60 }), fail: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }),
    { minLength: 1, maxLength: 20 },
  ),
  stopGraceMs: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }) }),
});

/** Pipeline `index` with `stages` stages, each naming the pipeline so the runner can tell whose stage it runs. */
function pipelineInput(index: number, stages: number): PipelineInput {
  const tag = `p${index}`;
  return {
    name: tag,
    repository: `repo-${tag}`,
    stages: {
      run_stage: { command: `run ${tag}` },
      ...(stages >= 2 ? { build_stage: { dockerfile_path: `${tag}/Dockerfile` } } : {}),
      ...(stages >= 3 ? { deploy_stage: { cluster_name: tag, manifest_path: `${tag}/k8s` } } : {}),
    },
  };
}

const tagOf = (stage: StageSpec): string =>
  stage.kind === "run" ? stage.command.slice(4) : stage.kind === "build" ? stage.dockerfile_path.split("/")[0]! : stage.cluster_name;

async function check(scenario: Scenario): Promise<void> {
  const clock = new ManualClock();
  const memory = new MemoryStore({ clock, ids: sequentialIds() });
  const violations: string[] = [];

  /** Claimed run ids per pipeline, in claim order. */
  const claimed = new Map<string, string[]>();
  const store = wrapStore(memory, {
    claimRun: async (workerId) => {
      const claim = await memory.claimRun(workerId);
      if (claim) claimed.set(claim.run.pipeline_id, [...(claimed.get(claim.run.pipeline_id) ?? []), claim.run.id]);
      return claim;
    },
  });

  // A stage of pipeline X must never run while another stage of X runs: that would be two runs at once.
  const activeStages = new Map<string, number>();
  let next = 0;
  const runner: StageRunner = {
    async run(stage, ctx) {
      const tag = tagOf(stage);
      const active = activeStages.get(tag) ?? 0;
      if (active > 0) violations.push(`${tag}: a ${stage.kind} stage started while another of its stages was running`);
      activeStages.set(tag, active + 1);
      const outcome = scenario.outcomes[next++ % scenario.outcomes.length]!;
      try {
        ctx.log(`${stage.kind} for ${outcome.ms} ms`);
        await clock.sleep(outcome.ms, ctx.signal);
        if (outcome.fail) throw new Error(`${stage.kind} failed`);
      } finally {
        activeStages.set(tag, (activeStages.get(tag) ?? 1) - 1);
      }
    },
  };

  const pool = new WorkerPool({ store, runner, size: scenario.size, clock });
  const pipelineIds: string[] = [];
  for (const [i, stages] of scenario.stageCounts.entries()) pipelineIds.push((await store.createPipeline(pipelineInput(i, stages))).id);
  const deleted = new Set<string>();
  /** Triggered run ids per pipeline, in trigger order. */
  const triggered = new Map<string, string[]>();

  const allRuns = async (): Promise<Run[]> => (await store.listRuns({ limit: 1000 })).items;
  const checkInstant = async (when: string) => {
    const runs = await allRuns();
    const running = new Map<string, number>();
    for (const run of runs) if (run.status === "running") running.set(run.pipeline_id, (running.get(run.pipeline_id) ?? 0) + 1);
    for (const [pipelineId, count] of running)
      if (count > 1) violations.push(`${when}: ${count} runs of pipeline ${pipelineId} are running`);
    const totalRunning = [...running.values()].reduce((a, b) => a + b, 0);
    if (totalRunning > scenario.size) violations.push(`${when}: ${totalRunning} runs running with ${scenario.size} workers`);
    // Liveness: with a worker free, no run may wait whose pipeline has nothing running.
    if (pool.busy < scenario.size) {
      const waiting = runs.filter((r) => r.status === "queued" && !running.has(r.pipeline_id));
      if (waiting.length > 0) violations.push(`${when}: ${pool.busy}/${scenario.size} workers busy, yet run ${waiting[0]!.id} is claimable and queued`);
    }
  };

  pool.start();
  for (const [step, op] of scenario.ops.entries()) {
    const pipelineId = pipelineIds[op.kind === "advance" ? 0 : op.pipeline % pipelineIds.length]!;
    if (op.kind === "trigger") {
      const run = await store.triggerRun(pipelineId, "main");
      if (deleted.has(pipelineId) !== (run === undefined)) violations.push(`step ${step}: trigger answered ${run?.status} for a ${deleted.has(pipelineId) ? "deleted" : "live"} pipeline`);
      if (run) triggered.set(pipelineId, [...(triggered.get(pipelineId) ?? []), run.id]);
    } else if (op.kind === "delete") {
      const result = await store.deletePipeline(pipelineId);
      if (deleted.has(pipelineId) !== (result === undefined)) violations.push(`step ${step}: delete of a ${deleted.has(pipelineId) ? "deleted" : "live"} pipeline answered ${JSON.stringify(result)}`);
      deleted.add(pipelineId);
    } else {
      await clock.advance(op.ms);
    }
    await settle();
    await checkInstant(`after step ${step} (${JSON.stringify(op)})`);
    if (violations.length) break;
  }

  if (scenario.stopGraceMs === null) {
    // Drain: let time pass until no stage sleeps and no worker is busy.
    for (let i = 0; i < 10_000 && (clock.pending > 0 || pool.busy > 0); i++) {
      if (!(await clock.advanceToNext())) await settle();
      await checkInstant(`while draining at ${clock.now()}`);
      if (violations.length) break;
    }
    if (clock.pending > 0 || pool.busy > 0) violations.push(`did not drain: ${pool.busy} busy, ${clock.pending} sleeping`);
    const report = await pool.stop(0);
    if (report.interrupted.length > 0) violations.push(`stop after draining interrupted ${report.interrupted.length} runs`);
  } else {
    // Shut down mid-flight: stop resolves within the grace period; what was running has ended,
    // what was interrupted is cancelled; queued runs stay for the server to cancel.
    const grace = scenario.stopGraceMs;
    const stoppedAt = clock.now();
    let report: Awaited<ReturnType<WorkerPool["stop"]>> | undefined;
    void pool.stop(grace).then((r) => (report = r));
    for (let i = 0; i < 10_000; i++) {
      await settle();
      if (report || !(await clock.advanceToNext())) break;
    }
    if (!report) violations.push("stop did not resolve");
    else if (clock.now() - stoppedAt > grace) violations.push(`stop(${grace}) resolved only after ${clock.now() - stoppedAt} ms`);
    for (const run of report?.interrupted ?? []) if (run.status !== "cancelled") violations.push(`interrupted run ${run.id} is ${run.status}`);
    const stillRunning = (await allRuns()).filter((r) => r.status === "running");
    if (stillRunning.length) violations.push(`after stop, ${stillRunning.length} runs are still running`);
    await store.cancelQueued("server stopped");
  }

  const runs = await allRuns();
  for (const run of runs) {
    if (!isTerminal(run.status)) violations.push(`run ${run.id} ended ${run.status}`);
    if (run.stages.some((s) => s.status === "pending" || s.status === "running")) violations.push(`run ${run.id} (${run.status}) has an open stage`);
    if (run.status === "success" && run.stages.some((s) => s.status !== "success")) violations.push(`run ${run.id} succeeded with stages ${run.stages.map((s) => s.status)}`);
    if (run.status !== "success" && !run.error) violations.push(`run ${run.id} ended ${run.status} without an error`);
  }
  for (const pipelineId of pipelineIds) {
    const order = triggered.get(pipelineId) ?? [];
    const starts = claimed.get(pipelineId) ?? [];
    // Runs start in trigger order; the ones never started can only be those a delete cancelled.
    if (JSON.stringify(starts) !== JSON.stringify(order.slice(0, starts.length)))
      violations.push(`pipeline ${pipelineId}: triggered ${order.join(",")} but started ${starts.join(",")}`);
    if (scenario.stopGraceMs === null && !deleted.has(pipelineId) && starts.length !== order.length) violations.push(`pipeline ${pipelineId} is live, yet only ${starts.length}/${order.length} runs started`);
    // Started runs of one pipeline never overlap in time.
    const byId = new Map(runs.map((r) => [r.id, r]));
    for (let i = 1; i < starts.length; i++) {
      const before = byId.get(starts[i - 1]!);
      const after = byId.get(starts[i]!);
      if (!before?.finished_at || !after?.started_at || after.started_at < before.finished_at)
        violations.push(`pipeline ${pipelineId}: run ${after?.id} started at ${after?.started_at} before ${before?.id} finished at ${before?.finished_at}`);
    }
  }
  await store.close();
  expect(violations).toEqual([]);
}

describe("engine (MemoryStore + WorkerPool) under random operations", () => {
  it("keeps one running run per pipeline, FIFO per pipeline, no idle worker beside claimable work, and ends every run", async () => {
    await fc.assert(fc.asyncProperty(scenarios, check), { numRuns: 200 });
    // ~1 s alone; the margin is for a loaded machine running every test file at once.
  }, 20_000);

  it("holds for a hand-picked busy case: 6 pipelines, 2 workers, bursts of triggers and a delete mid-run", async () => {
    const ops: Op[] = [];
    for (let i = 0; i < 18; i++) ops.push({ kind: "trigger", pipeline: i % 6 });
    ops.push({ kind: "advance", ms: 25 }, { kind: "delete", pipeline: 0 }, { kind: "advance", ms: 10 }, { kind: "delete", pipeline: 3 }, { kind: "trigger", pipeline: 0 });
    await check({ stageCounts: [3, 1, 2, 3, 1, 2], size: 2, ops, outcomes: [{ ms: 10, fail: false }, { ms: 0, fail: false }, { ms: 15, fail: true }], stopGraceMs: null });
  });
});
