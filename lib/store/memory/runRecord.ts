/**
 * A run as the in-memory store keeps it: the run itself, updated in place, and its log lines by stage,
 * each numbered within the run. Readers get copies, their stages' `logs` made from the lines.
 */
import type { LogLine, LogsPage, Run, StagesSpec } from "../../api/schemas.ts";
import { isTerminal } from "../stages.ts";
import { appendCapped, MAX_STAGE_LINES } from "../stages.ts";

export interface RunRecord {
  /** Trigger order, for listing and for claiming the oldest queued run first. */
  seq: number;
  /** Updated in place; its stages' `logs` stay empty (the lines are in `lines`). */
  run: Run;
  /** The pipeline's stages when the run was triggered: a later update does not change them. */
  spec: StagesSpec;
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

/** A record for `run`, as it is triggered. */
export const newRecord = (seq: number, run: Run, spec: StagesSpec): RunRecord => ({ seq, run, spec, claim: undefined, lines: run.stages.map(() => []), lastSeq: 0 });

/**
 * Appends `texts` to stage `index` at `time`. Pushed in place while the stage is under its cap, so that
 * a stage logging line by line costs O(1) a line; past it, lines from the middle go (appendCapped).
 */
export function appendLogs(record: RunRecord, index: number, texts: readonly string[], time: string): void {
  const stage = record.run.stages[index]!.name;
  const added = texts.map((text) => ({ seq: ++record.lastSeq, stage, time, text }));
  const lines = record.lines[index]!;
  if (lines.length + added.length <= MAX_STAGE_LINES) lines.push(...added);
  else record.lines[index] = appendCapped(lines, added, (line) => line.text, (count, first) => ({ ...first, time, text: `[... ${count} lines dropped ...]` }));
}

/** Forgets every line (a run handed back to the queue starts again). */
export function clearLogs(record: RunRecord): void {
  record.lines = record.lines.map(() => []);
}

/** A copy of the run for a reader, with `extra` (a queued run's place). */
export function readRun(record: RunRecord, extra?: Pick<Run, "queue_position" | "waiting_for">): Run {
  const { run } = record;
  const stages = run.stages.map((s, i) => ({ ...s, logs: record.lines[i]!.map((line) => line.text) }));
  return { ...run, stages, ...extra };
}

/** Up to `limit` lines numbered after `after`, in order. */
export function logsAfter(record: RunRecord, after: number, limit: number): LogsPage {
  const lines = record.lines
    .flatMap((stage) => stage.slice(firstAfter(stage, after)))
    .sort((a, b) => a.seq - b.seq)
    .slice(0, limit);
  const { status } = record.run;
  return { lines, next_after: lines.at(-1)?.seq ?? after, status, done: isTerminal(status) };
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
