/**
 * The results file: every figure of a bench run with the machine it ran on; ratios and target checks
 * are computed from it, never parsed from printed text.
 */
import os from "node:os";
import type { BaselinePoint } from "./baseline.ts";
import { BUNDLE_SIZE_TARGET, COLD_START_BUDGET_MS, type ColdStarts } from "./coldStart.ts";
import type { SweepPoint } from "./engine.ts";
import type { HandlerPoint } from "./handlers.ts";
import type { HttpPoint } from "./http.ts";
import type { IdlePoint, LoadPoint } from "./latency.ts";
import type { PgPoint } from "./postgres.ts";
import { rssFlatness, type RetentionRun } from "./retention.ts";
import type { RunControlPoint } from "./runControl.ts";
import type { ShellPoint } from "./shellStages.ts";
import { pairedRatio } from "./stats.ts";

export interface Results {
  node: string;
  cpu: string;
  cores: number;
  date: string;
  profile: string;
  parameters: Record<string, unknown>;
  queue?: { sweep: SweepPoint[]; baseline: BaselinePoint[] };
  latency?: { idle: IdlePoint; load: { workers: number; pipelines: number; stageMs: number; capacity: number; points: LoadPoint[] } };
  /** `requests` per round instead of `seconds` for short runs (see HttpOptions). */
  http?: { connections: number; seconds: number; requests?: number; points: HttpPoint[] };
  handlers?: HandlerPoint[];
  postgres?: { adminUrl: string; points: PgPoint[] };
  retention?: RetentionRun;
  coldstart?: ColdStarts;
  runControl?: RunControlPoint[];
  shell?: ShellPoint[];
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

function pair(points: readonly HttpPoint[], request: string) {
  const emulator = points.find((p) => p.target === "emulator" && p.request === request);
  const express = points.find((p) => p.target === "express" && p.request === request);
  return emulator && express ? { emulator, express } : undefined;
}

/** The emulator's req/s over bare Express's for one request, paired by round (see http.ts). */
export function httpRateRatio(points: readonly HttpPoint[], request: string): number | undefined {
  const p = pair(points, request);
  return p && pairedRatio(p.emulator.rounds, p.express.rounds);
}

/** Bare Express's CPU per request over the emulator's (1 = as cheap; 0.9 = 1.11x the CPU), paired by round. */
export function httpCpuRatio(points: readonly HttpPoint[], request: string): number | undefined {
  const p = pair(points, request);
  return p && pairedRatio(p.express.cpuRounds, p.emulator.cpuRounds);
}

/** Our jobs/s against graphile-worker's, from their alternating rounds. */
export function pgRatio(ours: PgPoint, theirs: PgPoint): number {
  return pairedRatio(ours.rounds, theirs.rounds);
}

/** The targets, checked against the figures of this run. */
export function checkTargets(r: Results): Target[] {
  const out: Target[] = [];
  const check = (name: string, value: number, goal: string, met: boolean) => out.push({ name, value, goal, met });
  const cpu = httpCpuRatio(r.http?.points ?? [], "GET /pipelines/{id}");
  if (cpu !== undefined) check("CPU per request, GET /pipelines/{id}: bare Express / emulator", cpu, ">= 0.9", cpu >= 0.9);
  for (const ours of r.postgres?.points.filter((p) => p.engine === "stagerunner") ?? []) {
    const theirs = r.postgres!.points.find((p) => p.engine === "graphile-worker" && p.processes === ours.processes);
    if (!theirs) continue;
    const ratio = pgRatio(ours, theirs);
    check(`PostgreSQL runs/s vs graphile-worker named queues, ${ours.processes} process(es)`, ratio, ">= 1", ratio >= 1);
  }
  const idle = r.latency?.idle;
  if (idle) check("trigger-to-start p99 with idle workers, in memory (ms)", idle.wait.p99, "< 1", idle.wait.p99 < 1);
  const flat = r.retention && rssFlatness(r.retention);
  if (flat) check("RSS under retention: highest / first sample after warm-up", flat.growth, "<= 1.1", flat.growth <= 1.1);
  for (const point of r.runControl ?? []) {
    // What a person waits for: within 100 ms in memory; within 1 s when it crosses PostgreSQL.
    const limit = point.store === "memory" ? 100 : 1000;
    check(`cancel, request to cancelled, p99, ${point.store} (ms)`, point.cancel.p99, `< ${limit}`, point.cancel.p99 < limit);
    check(`log line to SSE client, p99, ${point.store} (ms)`, point.sse.p99, `< ${limit}`, point.sse.p99 < limit);
    check(`log line to long-poll client, p99, ${point.store} (ms)`, point.longPoll.p99, `< ${limit}`, point.longPoll.p99 < limit);
  }
  const bundles = r.coldstart?.bundles ?? [];
  if (bundles.length) {
    const largest = Math.max(...bundles.map((b) => b.bytes)) / 1024;
    check("largest handler bundle (KB)", largest, `<= ${BUNDLE_SIZE_TARGET / 1024}`, largest <= BUNDLE_SIZE_TARGET / 1024);
    const slowest = Math.max(...bundles.map((b) => b.overheadMs));
    check("slowest handler cold start over an empty module (ms)", slowest, `<= ${COLD_START_BUDGET_MS}`, slowest <= COLD_START_BUDGET_MS);
  }
  return out;
}
