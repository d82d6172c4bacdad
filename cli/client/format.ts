/**
 * Human output of the client: plain lines, no colours, stable enough to grep. Each function returns
 * the lines so that commands, the run follower and the demo print them the same way.
 */
import { STAGE_KINDS } from "../../lib/api/order.ts";
import type { Pipeline, Problem, Run, StageRun } from "../../lib/api/schemas.ts";

/** Stage kinds a pipeline defines, in execution order. */
export function stageKinds(pipeline: Pipeline): string[] {
  return STAGE_KINDS.filter((kind) => pipeline.stages[`${kind}_stage`] !== undefined);
}

export function pipelineLines(pipelines: Pipeline[]): string[] {
  if (pipelines.length === 0) return ["No pipelines."];
  return columns(pipelines.map((p) => [p.id, p.name, p.repository, stageKinds(p).join(",")]));
}

export function pipelineDetail(p: Pipeline): string[] {
  const lines = [`Pipeline: ID: ${p.id}`, `  Name: ${p.name}`, `  Repository: ${p.repository}`, "  Stages:"];
  for (const kind of STAGE_KINDS) {
    const spec = p.stages[`${kind}_stage`];
    if (!spec) continue;
    const fields = Object.entries(spec).map(([key, value]) => `${key}: ${value}`);
    lines.push(`    ${kind.padEnd(8)} ${fields.join(", ")}`);
  }
  lines.push(`  Created: ${p.created_at}`, `  Updated: ${p.updated_at}`);
  return lines;
}

/**
 * `list-runs`: a header line, then a run a line with its pipeline's name (`names`; "-" for a deleted
 * pipeline), ref, status, and how long it ran (so far, when running; `now` for that).
 */
export function runLines(runs: Run[], names: ReadonlyMap<string, string>, now = Date.now()): string[] {
  if (runs.length === 0) return ["No runs."];
  const rows = runs.map((r) => [r.id, names.get(r.pipeline_id) ?? "-", r.git_ref, r.status, runDuration(r, now), r.created_at]);
  return columns([["ID", "PIPELINE", "REF", "STATUS", "DURATION", "CREATED"], ...rows]);
}

/** Rows as columns padded to their widest cell, two spaces apart; the last column is not padded. */
function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => width(rows.map((row) => row[i]!)));
  return rows.map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join("  "));
}

/** `1.2s`, `3m05s`, `2h04m`; "-" before the run has started. */
export function runDuration(run: Run, now: number): string {
  if (!run.started_at) return "-";
  const ms = (run.finished_at ? Date.parse(run.finished_at) : now) - Date.parse(run.started_at);
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const two = (n: number) => String(Math.floor(n)).padStart(2, "0");
  return s < 3600 ? `${Math.floor(s / 60)}m${two(s % 60)}s` : `${Math.floor(s / 3600)}h${two((s % 3600) / 60)}m`;
}

/** What a queued run waits for, said once when following starts. */
export function queuedLine(run: Run): string {
  const place = run.queue_position ? ` (position ${run.queue_position} in its pipeline's queue)` : "";
  return `Run ${run.id} is queued, waiting for ${run.waiting_for ?? "its turn"}${place}`;
}

/** The seed's `get-run` layout. */
export function runDetail(run: Run): string[] {
  const lines = [
    `Run: ID: ${run.id}`,
    `  PipelineID: ${run.pipeline_id}`,
    `  GitRef: ${run.git_ref}`,
    ...envLines(run.env),
    `  Status: ${run.status}`,
    `  Created: ${run.created_at}`,
    `  Started: ${run.started_at ?? "-"}`,
    `  Finished: ${run.finished_at ?? "-"}`,
  ];
  if (run.error !== null) lines.push(`  Error: ${run.error}`);
  lines.push("  Stages:");
  for (const stage of run.stages) {
    const times = stage.started_at ? `${stage.started_at} -> ${stage.finished_at ?? "..."}` : "";
    lines.push(`    ${stage.name.padEnd(8)} ${stage.status.padEnd(8)} ${times}`.trimEnd());
    for (const log of stage.logs) lines.push(`      ${log}`);
  }
  return lines;
}

/**
 * A run's parameters, a line each; nothing when it has none. A value with a newline (or another control
 * character) is JSON-quoted, so that it stays on its line.
 */
function envLines(env: Run["env"]): string[] {
  const entries = Object.entries(env);
  if (entries.length === 0) return [];
  return ["  Env:", ...entries.map(([name, value]) => `    ${name}=${/[\x00-\x1f\x7f]/.test(value) ? JSON.stringify(value) : value}`)];
}

/** One progress line for a stage whose status changed, e.g. `  run      success (0.2 s)`. */
export function stageProgress(stage: StageRun): string {
  const took = stage.started_at && stage.finished_at ? ` (${seconds(stage.started_at, stage.finished_at)} s)` : "";
  return `  ${stage.name.padEnd(8)} ${stage.status}${took}`;
}

/** The closing line of a followed run. */
export function runOutcome(run: Run): string {
  const took = run.started_at && run.finished_at ? ` in ${seconds(run.started_at, run.finished_at)} s` : "";
  return `Run ${run.id} ${run.status}${took}${run.error ? `: ${run.error}` : ""}`;
}

/** `error: <status> <title>: <detail>` then one line per field error. */
export function problemLines(problem: Problem): string[] {
  const lines = [`error: ${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`];
  for (const e of problem.errors ?? []) lines.push(`  ${e.path}: ${e.message}`);
  return lines;
}

const width = (values: string[]): number => Math.max(0, ...values.map((v) => v.length));

function seconds(from: string, to: string): string {
  return ((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1);
}
