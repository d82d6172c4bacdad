/**
 * Property: whatever mix of triggers, reruns, cancels, pipeline deletions, concurrency policies, stage
 * outcomes (timeouts and retries included) and passing time, the MemoryStore + WorkerPool keep the
 * queue's promises — one running run per pipeline at any instant, each pipeline's runs start in
 * trigger order (those cancelled before they started left out), an idle worker never leaves
 * claimable work waiting, no run is both cancelled and succeeded, and in the end every run is terminal.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../lib/store/memory/memoryStore.ts";
import { isTerminal, type StageSpec } from "../../../lib/store/stages.ts";
import type { Concurrency, PipelineInput, Run } from "../../../lib/api/schemas.ts";
import type { StageRunner } from "../../../lib/worker/stageRunner.ts";
import { WorkerPool } from "../../../lib/worker/pool.ts";
import { ManualClock, sequentialIds, settle } from "../../support/manualClock.ts";
import { wrapStore } from "../../support/storeWrappers.ts";

type Op =
  | { kind: "trigger"; pipeline: number }
  | { kind: "delete"; pipeline: number }
  | { kind: "advance"; ms: number }
  | { kind: "cancel"; run: number }
  | { kind: "rerun"; run: number };

interface Outcome {
  ms: number;
  fail: boolean;
}

interface Scenario {
  /** Number of stages (1–3) of each pipeline; 1–6 pipelines. */
  stageCounts: number[];
  /** Each pipeline's concurrency policy and its stages' retries and time limit (cycling). */
  policies: { concurrency: Concurrency; retries: number; timeoutS: number | undefined }[];
  size: number;
  ops: Op[];
  /** Consumed in turn by the stages the pool runs, cycling. */
  outcomes: Outcome[];
  /** After the operations: drain (null), or stop at once with this grace period. */
  stopGraceMs: number | null;
}

const scenarios: fc.Arbitrary<Scenario> = fc.record({
  stageCounts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }),
  policies: fc.array(
    fc.record({
      concurrency: fc.constantFrom<Concurrency>("queue", "queue", "supersede", "cancel_in_progress"),
      retries: fc.integer({ min: 0, max: 1 }),
      timeoutS: fc.option(fc.constant(1), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  size: fc.integer({ min: 1, max: 5 }),
  ops: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("trigger" as const), pipeline: fc.nat(5) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), pipeline: fc.nat(5) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 120 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), run: fc.nat(30) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("rerun" as const), run: fc.nat(30) }) },
    ),
    { maxLength: 40 },
  ),
  outcomes: fc.array(
    fc.record({
      // Now and then a stage that overruns a 1 s time limit.
      ms: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 60 }) }, { weight: 1, arbitrary: fc.integer({ min: 900, max: 1500 }) }),
      fail: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
    { minLength: 1, maxLength: 20 },
  ),
  stopGraceMs: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }) }),
});

/** Pipeline `index` with `stages` stages, each naming the pipeline so the runner can tell whose stage it runs. */
function pipelineInput(index: number, stages: number, policy: Scenario["policies"][number]): PipelineInput {
  const tag = `p${index}`;
  const control = { retries: policy.retries, ...(policy.timeoutS ? { timeout_seconds: policy.timeoutS } : {}) };
  return {
    name: tag,
    repository: `repo-${tag}`,
    concurrency: policy.concurrency,
    stages: {
      run_stage: { command: `run ${tag}`, ...control },
      ...(stages >= 2 ? { build_stage: { dockerfile_path: `${tag}/Dockerfile`, ...control } } : {}),
      ...(stages >= 3 ? { deploy_stage: { cluster_name: tag, manifest_path: `${tag}/k8s`, ...control } } : {}),
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
  for (const [i, stages] of scenario.stageCounts.entries())
    pipelineIds.push((await store.createPipeline(pipelineInput(i, stages, scenario.policies[i % scenario.policies.length]!))).id);
  /** Every run triggered or rerun, in order. */
  const everyRun: string[] = [];
  /** Runs a cancel ended while they were queued: they must never start. */
  const cancelledAtOnce = new Set<string>();
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
    const pipelineId = pipelineIds["pipeline" in op ? op.pipeline % pipelineIds.length : 0]!;
    if (op.kind === "trigger") {
      const run = await store.triggerRun(pipelineId, "main");
      if (deleted.has(pipelineId) !== (run === undefined)) violations.push(`step ${step}: trigger answered ${run?.status} for a ${deleted.has(pipelineId) ? "deleted" : "live"} pipeline`);
      if (run) triggered.set(pipelineId, [...(triggered.get(pipelineId) ?? []), run.id]);
      if (run) everyRun.push(run.id);
    } else if (op.kind === "cancel" || op.kind === "rerun") {
      const id = everyRun[op.run % Math.max(1, everyRun.length)];
      const cancel = id && op.kind === "cancel" ? await store.cancelRun(id, "property") : undefined;
      if (cancel && cancel.outcome !== "finished" && cancel.run.status !== "cancelled" && cancel.run.status !== "running")
        violations.push(`step ${step}: cancel answered ${cancel.outcome} with a ${cancel.run.status} run`);
      if (cancel?.outcome === "cancelled") cancelledAtOnce.add(cancel.run.id);
      const rerun = id && op.kind === "rerun" ? await store.rerunRun(id) : undefined;
      if (rerun && "run" in rerun) {
        triggered.set(rerun.run.pipeline_id, [...(triggered.get(rerun.run.pipeline_id) ?? []), rerun.run.id]);
        everyRun.push(rerun.run.id);
      }
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
    for (const id of report?.interrupted ?? []) {
      const status = (await store.getRun(id))?.status;
      if (status !== "cancelled") violations.push(`interrupted run ${id} is ${status}`);
    }
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
    if (run.status === "cancelled" && run.stages.every((s) => s.status === "success")) violations.push(`run ${run.id} was cancelled after every stage succeeded`);
    if (run.status === "success" && run.error) violations.push(`run ${run.id} succeeded with error ${run.error}`);
    if (cancelledAtOnce.has(run.id) && (run.status !== "cancelled" || run.started_at !== null)) violations.push(`run ${run.id} was cancelled while queued, yet ran`);
  }
  for (const pipelineId of pipelineIds) {
    const byId = new Map(runs.map((r) => [r.id, r]));
    // Runs start in trigger order, less those cancelled before they started (a cancel, a supersede,
    // a delete, the shutdown).
    const order = (triggered.get(pipelineId) ?? []).filter((id) => byId.get(id)?.started_at !== null);
    const starts = claimed.get(pipelineId) ?? [];
    if (JSON.stringify(starts) !== JSON.stringify(order.slice(0, starts.length)))
      violations.push(`pipeline ${pipelineId}: triggered ${order.join(",")} but started ${starts.join(",")}`);
    const neverStarted = (triggered.get(pipelineId) ?? []).filter((id) => byId.get(id)?.started_at === null);
    for (const id of neverStarted) if (byId.get(id)?.status !== "cancelled") violations.push(`run ${id} never started, yet ended ${byId.get(id)?.status}`);
    // Started runs of one pipeline never overlap in time.
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
    await fc.assert(fc.asyncProperty(scenarios, check), { numRuns: 300 });
    // ~1 s alone; the margin is for a loaded machine running every test file at once.
  }, 20_000);

  it("holds for a hand-picked busy case: 6 pipelines, 2 workers, bursts of triggers and a delete mid-run", async () => {
    const ops: Op[] = [];
    for (let i = 0; i < 18; i++) ops.push({ kind: "trigger", pipeline: i % 6 });
    ops.push({ kind: "advance", ms: 25 }, { kind: "delete", pipeline: 0 }, { kind: "advance", ms: 10 }, { kind: "delete", pipeline: 3 }, { kind: "trigger", pipeline: 0 });
    await check({ stageCounts: [3, 1, 2, 3, 1, 2], policies: [{ concurrency: "queue", retries: 0, timeoutS: undefined }], size: 2, ops, outcomes: [{ ms: 10, fail: false }, { ms: 0, fail: false }, { ms: 15, fail: true }], stopGraceMs: null });
  });
});
