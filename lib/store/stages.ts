/**
 * Run and stage state: one status union each, one transition table, everything else derived.
 */
import { STAGE_KINDS } from "../api/order.ts";
import type { RunStatus, StageRun, StageStatus, StagesSpec } from "../api/schemas.ts";

/** Allowed run transitions. Terminal states have none. */
export const RUN_TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  queued: ["running", "cancelled"],
  running: ["success", "failed", "cancelled"],
  success: [],
  failed: [],
  cancelled: [],
};

export const isTerminal = (status: RunStatus): boolean => RUN_TRANSITIONS[status].length === 0;

/** A stage as the stage runner receives it. */
export type StageSpec = (
  | { kind: "run"; command: string }
  | { kind: "build"; dockerfile_path: string }
  | { kind: "deploy"; cluster_name: string; manifest_path: string }
) & { timeout_seconds?: number | undefined; retries?: number | undefined };

/** What a real runner would execute for the stage, as a shell line. */
export function describeStage(stage: StageSpec): string {
  switch (stage.kind) {
    case "run":
      return `$ ${stage.command}`;
    case "build":
      return `$ docker build -f ${stage.dockerfile_path} .`;
    case "deploy":
      return `$ kubectl --context ${stage.cluster_name} apply -f ${stage.manifest_path}`;
  }
}

/** The pipeline's stages in execution order: run, build, deploy (those present). */
export function stageSpecs(stages: StagesSpec): StageSpec[] {
  return STAGE_KINDS.flatMap((kind) => {
    const spec = stages[`${kind}_stage`];
    return spec ? [{ kind, ...spec } as StageSpec] : [];
  });
}

export function pendingStages(stages: StagesSpec): StageRun[] {
  return stageSpecs(stages).map((s) => ({ name: s.kind, status: "pending", started_at: null, finished_at: null, attempts: 0, logs: [] }));
}

/** A handed-back run's stages: pending again, the first one's log saying why the last attempt stopped. */
export function releasedStages(stages: StageRun[], reason: string): StageRun[] {
  return stages.map((s, i) => ({
    ...s,
    status: "pending",
    started_at: null,
    finished_at: null,
    attempts: 0,
    logs: i === 0 ? [`previous attempt handed back to the queue: ${reason}`] : [],
  }));
}

/**
 * A stage given a new status at `at`: running stamps started_at and counts an attempt, an end state
 * stamps finished_at, and the status it already has changes nothing. (SQL twin: patchStageSql.)
 */
export function withStatus(stage: StageRun, status: StageStatus, at: string): StageRun {
  if (stage.status === status) return stage;
  if (status === "running") return { ...stage, status, started_at: at, attempts: stage.attempts + 1 };
  if (status === "pending") return { ...stage, status };
  return { ...stage, status, finished_at: at };
}

/**
 * A run's stages when it ends with `runStatus` at `at`: pending ones end skipped, the running one failed
 * (the run failed) or cancelled, the others unchanged. (SQL twin: closeStagesSql.)
 */
export function closedStages(stages: StageRun[], runStatus: RunStatus, at: string): StageRun[] {
  return stages.map((s) => {
    if (s.status === "pending") return { ...s, status: "skipped" };
    if (s.status === "running") return { ...s, status: runStatus === "failed" ? "failed" : "cancelled", finished_at: at };
    return s;
  });
}

/** Lines a stage keeps: past this, lines from the middle go (see appendLines). */
export const MAX_STAGE_LINES = 10_000;
/** The first lines of a stage, always kept: what it started with (its command, the checkout). */
export const KEPT_FIRST_LINES = 1_000;
const DROPPED = /^\[\.\.\. (\d+) lines dropped \.\.\.\]$/;
export const droppedLine = (count: number): string => `[... ${count} lines dropped ...]`;

/**
 * A stage's log with `added` appended, at most MAX_STAGE_LINES long: past that, its first
 * KEPT_FIRST_LINES stay, then one line saying how many were dropped, then the latest lines, since a
 * failing stage's last lines matter most. The SQL twin is appendLinesCtes (lib/store/pg/sql/logsSql.ts).
 */
export function appendLines(logs: readonly string[], added: readonly string[]): string[] {
  return appendCapped(logs, added, (line) => line, (count) => droppedLine(count));
}

/**
 * appendLines over any kind of line: `text` reads a line's text, and `marker(count, first)` makes the
 * line that says how many were dropped, `first` being the first line it replaces.
 */
export function appendCapped<T>(logs: readonly T[], added: readonly T[], text: (line: T) => string, marker: (count: number, first: T) => T): T[] {
  if (logs.length + added.length <= MAX_STAGE_LINES) return [...logs, ...added];
  const found = logs.length === MAX_STAGE_LINES ? DROPPED.exec(text(logs[KEPT_FIRST_LINES]!)) : null;
  const before = found ? Number(found[1]) : 0;
  // The first lines may come from `added` too, when `logs` had fewer.
  const fromAdded = Math.max(0, KEPT_FIRST_LINES - logs.length);
  const first = [...logs.slice(0, KEPT_FIRST_LINES), ...added.slice(0, fromAdded)];
  const tail = [...logs.slice(found ? KEPT_FIRST_LINES + 1 : KEPT_FIRST_LINES), ...added.slice(fromAdded)];
  const keep = MAX_STAGE_LINES - KEPT_FIRST_LINES - 1;
  return [...first, marker(before + tail.length - keep, found ? logs[KEPT_FIRST_LINES]! : tail[0]!), ...tail.slice(-keep)];
}
