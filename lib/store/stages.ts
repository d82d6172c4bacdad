/**
 * Run and stage state: one status union each, one transition table, everything else derived.
 */
import { STAGE_KINDS, type RunStatus, type StageKind, type StageRun, type StagesSpec } from "../api/schemas.ts";

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
export type StageSpec =
  | { kind: "run"; command: string }
  | { kind: "build"; dockerfile_path: string }
  | { kind: "deploy"; cluster_name: string; manifest_path: string };

const specsCache = new WeakMap<StagesSpec, readonly StageSpec[]>();
/** Where a stage spec made by stageSpecs keeps its describeStage line: not enumerable, so not part of its shape. */
const DESCRIPTION = Symbol("description");

/** What a real runner would execute for the stage, as a shell line. */
export function describeStage(stage: StageSpec): string {
  return (stage as { [DESCRIPTION]?: string })[DESCRIPTION] ?? shellLine(stage);
}

function shellLine(stage: StageSpec): string {
  switch (stage.kind) {
    case "run":
      return `$ ${stage.command}`;
    case "build":
      return `$ docker build -f ${stage.dockerfile_path} .`;
    case "deploy":
      return `$ kubectl --context ${stage.cluster_name} apply -f ${stage.manifest_path}`;
  }
}

/**
 * The pipeline's stages in execution order: run, build, deploy (those present). Cached per stages
 * object (every run of a pipeline shares it until the pipeline is replaced), so the hot path neither
 * rebuilds them nor allocates.
 */
export function stageSpecs(stages: StagesSpec): readonly StageSpec[] {
  let specs = specsCache.get(stages);
  if (!specs) {
    const out: StageSpec[] = [];
    for (const kind of STAGE_KINDS) {
      const spec = stages[`${kind}_stage`];
      if (!spec) continue;
      const stage = { kind, ...spec } as StageSpec;
      // Made with the spec, once per pipeline version: a runner's lookup of it in a WeakMap, once a
      // stage, showed in the engine's profile (WeakMap#get and its hash lookup, counted with valgrind).
      Object.defineProperty(stage, DESCRIPTION, { value: shellLine(stage) });
      out.push(Object.freeze(stage));
    }
    // The array itself is read-only by its type alone: the worker pool's reads of a frozen array's
    // elements went through a generic stub (500 machine instructions a run, counted with valgrind).
    specsCache.set(stages, (specs = out));
  }
  return specs;
}

export function pendingStages(stages: StagesSpec): StageRun[] {
  return stageSpecs(stages).map((s) => ({
    name: s.kind as StageKind,
    status: "pending",
    started_at: null,
    finished_at: null,
    logs: [],
  }));
}

/** A handed-back run's stages: pending again, the first one's log saying why the last attempt stopped. */
export function releasedStages(stages: StageRun[], reason: string): StageRun[] {
  return stages.map((s, i) => ({
    ...s,
    status: "pending",
    started_at: null,
    finished_at: null,
    logs: i === 0 ? [`previous attempt handed back to the queue: ${reason}`] : [],
  }));
}

/** Lines a stage keeps: past this, lines from the middle go (see appendLines). */
export const MAX_STAGE_LINES = 10_000;
/** The first lines of a stage, always kept: what it started with (its command, the checkout). */
export const KEPT_FIRST_LINES = 1_000;
const DROPPED = /^\[\.\.\. (\d+) lines dropped \.\.\.\]$/;
const droppedLine = (count: number): string => `[... ${count} lines dropped ...]`;

/**
 * A stage's log with `added` appended, at most MAX_STAGE_LINES long: past that, its first
 * KEPT_FIRST_LINES stay, then one line saying how many were dropped, then the latest lines, since a
 * failing stage's last lines matter most. The SQL twin is appendLinesSql (lib/store/pg/stagesSql.ts).
 */
export function appendLines(logs: readonly string[], added: readonly string[]): string[] {
  if (logs.length + added.length <= MAX_STAGE_LINES) return [...logs, ...added];
  const marker = logs.length === MAX_STAGE_LINES ? DROPPED.exec(logs[KEPT_FIRST_LINES] ?? "") : null;
  const before = marker ? Number(marker[1]) : 0;
  const rest = marker ? logs.slice(KEPT_FIRST_LINES + 1) : logs.slice(KEPT_FIRST_LINES);
  const tail = [...rest, ...added];
  const keep = MAX_STAGE_LINES - KEPT_FIRST_LINES - 1;
  return [...logs.slice(0, KEPT_FIRST_LINES), droppedLine(before + tail.length - keep), ...tail.slice(-keep)];
}
