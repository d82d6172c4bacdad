/**
 * A run as the in-memory store keeps it: the run itself, updated in place, and its log lines by stage,
 * each numbered within the run. Readers get copies, their stages' `logs` made from the lines.
 */
import type { LogLine, LogsPage, Run, StagesSpec, StageStatus } from "../../api/schemas.ts";
import type { ClaimedRun } from "../store.ts";
import { appendCapped, closedStages, droppedLine, isTerminal, MAX_STAGE_LINES, pendingStages, withStatus } from "../stages.ts";

export interface RunRecord {
  /** Trigger order, for listing and for claiming the oldest queued run first. */
  seq: number;
  /** Updated in place; its stages' `logs` stay empty (the lines are in `lines`). */
  run: Run;
  /** The pipeline's stages when the run was triggered: a later update does not change them. */
  spec: StagesSpec;
  /** The pipeline's repository when the run was triggered, as `spec`; not on the wire. */
  repository: string;
  /** While the run is running: its claim's fencing token and who watches it. */
  claim: ClaimState | undefined;
  /** By stage, in seq order. */
  lines: LogLine[][];
  /** The last seq given to a line. */
  lastSeq: number;
}

export interface ClaimState {
  token: string;
  lost: ((reason: string) => void)[];
  cancel: ((error: string) => void)[];
  /** Set once a cancel is asked for: the error the run is to end with. */
  cancelError: string | undefined;
}

/** What a new run is made of: the trigger's ref and env, the pipeline's stages and repository at the trigger. */
export type RunSource = Pick<Run, "git_ref" | "env"> & { spec: StagesSpec; repository: string };

/** A rerun of `record`: what it ran. */
export const rerunSource = (record: RunRecord): RunSource => ({ git_ref: record.run.git_ref, env: record.run.env, spec: record.spec, repository: record.repository });

/** What a claim carries of the run. */
export const claimedRun = ({ run }: RunRecord): ClaimedRun => ({ id: run.id, pipeline_id: run.pipeline_id, git_ref: run.git_ref, env: run.env });

/** A new queued run. */
export function queuedRun(id: string, pipelineId: string, source: RunSource, rerunOf: string | null, now: string): Run {
  return {
    id,
    pipeline_id: pipelineId,
    git_ref: source.git_ref,
    env: source.env,
    status: "queued",
    stages: pendingStages(source.spec),
    error: null,
    created_at: now,
    started_at: null,
    finished_at: null,
    updated_at: now,
    rerun_of: rerunOf,
    cancel_requested_at: null,
  };
}

/** A record for `run`, as it is triggered. */
export const newRecord = (seq: number, run: Run, { spec, repository }: RunSource): RunRecord => ({ seq, run, spec, repository, claim: undefined, lines: run.stages.map(() => []), lastSeq: 0 });

/**
 * Appends `texts` to stage `index` at `time`. Pushed in place while the stage is under its cap, so that
 * a stage logging line by line costs O(1) a line; past it, lines from the middle go (appendCapped).
 */
export function appendLogs(record: RunRecord, index: number, texts: readonly string[], time: string): void {
  const stage = record.run.stages[index]!.name;
  const added = texts.map((text) => ({ seq: ++record.lastSeq, stage, time, text }));
  const lines = record.lines[index]!;
  if (lines.length + added.length <= MAX_STAGE_LINES) lines.push(...added);
  else record.lines[index] = appendCapped(lines, added, (line) => line.text, (count, first) => ({ ...first, time, text: droppedLine(count) }));
}

/** Stage `index` given a status and lines at `now`. */
export function patchStage(record: RunRecord, index: number, status: StageStatus | undefined, logs: readonly string[] | undefined, now: string): void {
  if (logs?.length) appendLogs(record, index, logs, now);
  if (status) record.run.stages[index] = withStatus(record.run.stages[index]!, status, now);
}

/** Marks the run and its first stage running under a new claim with `token`. */
export function startRun(record: RunRecord, token: string, now: string): void {
  const { run } = record;
  run.status = "running";
  run.started_at = run.updated_at = now;
  run.stages[0] = withStatus(run.stages[0]!, "running", now);
  record.claim = { token, lost: [], cancel: [], cancelError: undefined };
}

/** Ends the run with `status` and `error`, its stages closed; tells its claim's watchers that it is lost. */
export function endRun(record: RunRecord, status: "success" | "failed" | "cancelled", error: string | null, now: string): void {
  const { run } = record;
  run.status = status;
  run.error = error;
  run.finished_at = run.updated_at = now;
  run.stages = closedStages(run.stages, status, now);
  const watchers = record.claim?.lost ?? [];
  record.claim = undefined;
  for (const onLost of watchers) onLost(error ?? `run ${status}`);
}

/** Queued again, its stages pending and its lines gone but one saying why (a run handed back). */
export function requeueRun(record: RunRecord, reason: string, now: string): void {
  const { run } = record;
  run.status = "queued";
  run.started_at = null;
  run.updated_at = now;
  run.stages = pendingStages(record.spec);
  record.lines = record.lines.map(() => []);
  record.claim = undefined;
  appendLogs(record, 0, [`previous attempt handed back to the queue: ${reason}`], now);
}

/** Records a running run's cancel (the first one asked wins) and tells its worker; false if there was nothing to do. */
export function requestCancel(record: RunRecord, error: string, now: string): boolean {
  const claim = record.claim;
  if (!claim || claim.cancelError !== undefined) return false;
  claim.cancelError = error;
  record.run.cancel_requested_at = record.run.updated_at = now;
  for (const onCancel of claim.cancel) onCancel(error);
  return true;
}

/**
 * A copy of the run for a reader, with `extra` (a queued run's place). Object.assign rather than a spread
 * for the keys the run does not have: on Node 20 a spread followed by new keys gets a hidden class of its
 * own every time, garbage that only a full collection frees (bench/README.md, retention).
 */
export function readRun(record: RunRecord, extra?: Pick<Run, "queue_position" | "waiting_for">): Run {
  const { run } = record;
  const stages = run.stages.map((s, i) => ({ ...s, logs: record.lines[i]!.map((line) => line.text) }));
  return extra ? Object.assign({}, run, { stages }, extra) : { ...run, stages };
}

/** Up to `limit` lines numbered after `after`, in order. */
export function logsAfter(record: RunRecord, after: number, limit: number): LogsPage {
  const rest = record.lines.flatMap((stage) => stage.slice(firstAfter(stage, after))).sort((a, b) => a.seq - b.seq);
  const lines = rest.slice(0, limit);
  const { status } = record.run;
  // Done: the run has finished and this page holds its last lines.
  return { lines, next_after: lines.at(-1)?.seq ?? after, status, done: isTerminal(status) && rest.length <= limit };
}

function firstAfter(lines: LogLine[], after: number): number {
  let lo = 0;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lines[mid]!.seq <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Store.watchClaim over a record: told at once (on a microtask) when the claim is not current, or its cancel was already asked for. */
export function watchClaim(record: RunRecord | undefined, token: string, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
  const current = record?.claim;
  if (current?.token !== token) {
    queueMicrotask(() => onLost("the run is no longer claimed by this worker"));
    return () => {};
  }
  current.lost.push(onLost);
  if (onCancel) {
    const error = current.cancelError;
    if (error === undefined) current.cancel.push(onCancel);
    else queueMicrotask(() => onCancel(error));
  }
  return () => {
    current.lost = current.lost.filter((w) => w !== onLost);
    current.cancel = current.cancel.filter((w) => w !== onCancel);
  };
}
