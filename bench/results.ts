/**
 * The results file: every figure of a bench run with the machine it ran on; ratios and target checks
 * are computed from it, never parsed from printed text.
 */
import os from "node:os";
import type { SweepPoint } from "./engine.ts";
import type { HandlerPoint } from "./handlers.ts";
import type { HttpPoint } from "./http.ts";
import type { KeptRunsPoint } from "./keptRuns.ts";
import type { LoadPoint } from "./openLoop.ts";
import type { PgPoint } from "./postgres.ts";
import { median, pairedRatio } from "./stats.ts";

/** The engine (unrecorded) against the baseline loop at 0-ms stages, over alternating rounds. */
export interface BaselinePoint {
  workers: number;
  pipelines: number;
  runs: number;
  rounds: number;
  /** Medians over the rounds. */
  baselineRunsPerSecond: number;
  engineRunsPerSecond: number;
  /** Median of the rounds' engine/baseline. */
  ratio: number;
}

export interface Results {
  node: string;
  cpu: string;
  cores: number;
  date: string;
  profile: string;
  parameters: Record<string, unknown>;
  queue?: { sweep: SweepPoint[]; baseline: BaselinePoint[] };
  latency?: { workers: number; pipelines: number; stageMs: number; capacity: number; points: LoadPoint[] };
  /** `requests` per round instead of `seconds` for short runs (see HttpOptions). */
  http?: { connections: number; seconds: number; requests?: number; points: HttpPoint[] };
  handlers?: HandlerPoint[];
  postgres?: { adminUrl: string; points: PgPoint[] };
  kept?: KeptRunsPoint;
  targets?: Target[];
}

export interface Target {
  name: string;
  value: number;
  goal: string;
  met: boolean;
}

export function machine(): Pick<Results, "node" | "cpu" | "cores" | "date"> {
  return { node: process.version, cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, date: new Date().toISOString() };
}

/**
 * The emulator's req/s against bare Express for one request: the median of the rounds' ratios, each
 * round measured back to back with its Express round (see http.ts). Undefined without both points.
 */
export function httpRatio(points: readonly HttpPoint[], request: string): number | undefined {
  const emulator = points.find((p) => p.target === "emulator" && p.request === request);
  const bare = points.find((p) => p.target === "express" && p.request === request);
  if (!emulator || !bare) return undefined;
  return pairedRatio(emulator.rounds, bare.rounds);
}

/** Our jobs/s against graphile-worker's, from their alternating rounds. */
export function pgRatio(ours: PgPoint, theirs: PgPoint): number {
  return pairedRatio(ours.rounds, theirs.rounds);
}

/** The targets, checked against the figures of this run. */
export function checkTargets(r: Results): Target[] {
  const out: Target[] = [];
  const d5 = r.queue?.sweep.filter((p) => p.stageMs === 5 && p.workers <= p.pipelines) ?? [];
  if (d5.length) {
    const worst = Math.min(...d5.map((p) => p.efficiency ?? 0));
    out.push({ name: "efficiency at D=5 ms, worst W<=P", value: worst, goal: ">= 0.95", met: worst >= 0.95 });
  }
  if (r.queue?.baseline.length) {
    const ratio = median(r.queue.baseline.map((b) => b.ratio));
    out.push({ name: "engine/baseline runs/s at D=0 (median)", value: ratio, goal: ">= 0.25 (goal 0.5)", met: ratio >= 0.25 });
  }
  const half = r.latency?.points.find((p) => p.load === 0.5);
  if (half) out.push({ name: "trigger-to-start p99 at 50% load (ms)", value: half.wait.p99, goal: "< 1", met: half.wait.p99 < 1 });
  const ratio = httpRatio(r.http?.points ?? [], "GET /pipelines/{id}");
  if (ratio !== undefined) {
    out.push({ name: "emulator/bare Express GET /pipelines/{id} req/s", value: ratio, goal: ">= 0.8 (goal 0.85)", met: ratio >= 0.8 });
  }
  for (const ours of r.postgres?.points.filter((p) => p.engine === "stagerunner") ?? []) {
    const theirs = r.postgres!.points.find((p) => p.engine === "graphile-worker" && p.processes === ours.processes);
    if (!theirs) continue;
    const ratio = pgRatio(ours, theirs);
    out.push({ name: `PostgreSQL runs/s vs graphile-worker named queues, ${ours.processes} process(es)`, value: ratio, goal: ">= 1", met: ratio >= 1 });
    // The median, not the p99: the steady part is 200 triggers, so its p99 is two of them, and it came
    // out above graphile-worker's at a different number of processes in three of four full runs.
    const p50 = ours.latency.p50 / theirs.latency.p50;
    out.push({ name: `PostgreSQL start p50 vs graphile-worker, ${ours.processes} process(es)`, value: p50, goal: "<= 1", met: p50 <= 1 });
  }
  return out;
}
