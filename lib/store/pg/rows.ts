/**
 * Rows as PostgreSQL returns them, and their wire shapes. Timestamps come back as Dates (node-postgres
 * parses timestamptz) and leave as ISO strings with milliseconds, as MemoryStore's do; the store only
 * ever writes millisecond values, so nothing is rounded.
 */
import { encodeCursor } from "../cursor.ts";
import { sortedEnv } from "../../api/order.ts";
import type { Concurrency, Pipeline, Run, RunEnv, RunStatus, StageRun, StagesSpec } from "../../api/schemas.ts";
import type { Page } from "../store.ts";
import { runLinesSql } from "./sql/logsSql.ts";

export interface PipelineRow {
  id: string;
  /** int8 arrives as a string. */
  seq: string;
  name: string;
  repository: string;
  stages: StagesSpec;
  concurrency: Concurrency;
  created_at: Date;
  updated_at: Date;
}

export interface RunRow {
  id: string;
  seq: string;
  pipeline_id: string;
  git_ref: string;
  env: RunEnv;
  status: RunStatus;
  stages: StageRun[];
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  rerun_of: string | null;
  cancel_requested_at: Date | null;
  /** Only in reads that ask for a queued run's place (controlSql.ts: queuePlaceSql, withQueuePlacesSql); null when not queued. */
  queue_position?: string | null;
  waiting_for?: string | null;
  /** [stage index, text] in seq order (lib/store/pg/sql/logsSql.ts runLinesSql); null for none. */
  lines: [number, string][] | null;
}

/**
 * A claimed run's row: what a worker needs of it (Store's ClaimedRun), its spec and repository, its
 * pipeline's name, and the error of a cancel asked for.
 */
export interface ClaimedRow extends Pick<RunRow, "id" | "pipeline_id" | "git_ref" | "env"> {
  spec: StagesSpec;
  repository: string;
  pipeline_name: string;
  cancel_error: string | null;
}

/** Columns of a pipeline as PipelineRow reads them. */
export const PIPELINE_COLUMNS = "id, seq, name, repository, stages, concurrency, created_at, updated_at";

/**
 * Columns of a run as RunRow reads them; `prefix` qualifies them (`r.`) in joins. `lines` replaces the
 * read of its lines (`NULL::json AS lines` for a run just inserted, which has none).
 */
export const runColumns = (prefix = "", lines = runLinesSql(`${prefix || "runs."}id`)): string =>
  ["id", "seq", "pipeline_id", "git_ref", "env", "status", "stages", "error", "created_at", "started_at", "finished_at", "updated_at", "rerun_of", "cancel_requested_at"]
    .map((c) => prefix + c)
    .concat(lines)
    .join(", ");

const isoOrNull = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function toPipeline(row: PipelineRow): Pipeline {
  return {
    id: row.id,
    name: row.name,
    repository: row.repository,
    stages: row.stages,
    concurrency: row.concurrency,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** jsonb keeps object keys sorted by length, not as written: rebuild each stage in the wire order, its logs from `lines`. */
const toStage = (s: StageRun, logs: string[]): StageRun => ({
  name: s.name,
  status: s.status,
  started_at: s.started_at,
  finished_at: s.finished_at,
  // Stages written before schema version 3 have no count: a stage that started ran once.
  attempts: s.attempts ?? (s.started_at === null ? 0 : 1),
  logs,
});

/** The texts of RunRow.lines by stage. */
function stageLogs(row: RunRow): string[][] {
  const logs: string[][] = row.stages.map(() => []);
  for (const [stage, text] of row.lines ?? []) logs[stage]?.push(text);
  return logs;
}

export function toRun(row: RunRow): Run {
  const logs = stageLogs(row);
  return {
    id: row.id,
    pipeline_id: row.pipeline_id,
    git_ref: row.git_ref,
    env: sortedEnv(row.env),
    status: row.status,
    stages: row.stages.map((s, i) => toStage(s, logs[i]!)),
    error: row.error,
    created_at: row.created_at.toISOString(),
    started_at: isoOrNull(row.started_at),
    finished_at: isoOrNull(row.finished_at),
    updated_at: row.updated_at.toISOString(),
    rerun_of: row.rerun_of,
    cancel_requested_at: isoOrNull(row.cancel_requested_at),
    ...(row.queue_position == null ? {} : { queue_position: Number(row.queue_position), waiting_for: row.waiting_for! }),
  };
}

/** Canonical lower-case UUIDs, as the id generator makes them; anything else names no row. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether `id` can name a row. Ids are uuid columns, and a malformed one would make PostgreSQL raise
 * an error where MemoryStore answers "no such row"; upper-case spellings are refused for the same
 * reason (MemoryStore compares strings exactly).
 */
export const isRowId = (id: string): boolean => UUID.test(id);

/** A page of `limit` items from `limit + 1` rows, with the cursor of the last item when more remain. */
export function page<R extends { seq: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return rows.length > limit && last ? { items: items.map(map), next: encodeCursor(Number(last.seq)) } : { items: items.map(map) };
}

/** A patch's log lines as the text[] the stage statements append. */
export const logTexts = (patch: { logs?: string[] | undefined }): string[] => (patch.logs ?? []).map(withoutNul);

/** PostgreSQL text cannot hold NUL, which a command's output may contain: it becomes U+FFFD. */
export const withoutNul = (line: string): string => (line.includes("\u0000") ? line.replaceAll("\u0000", "\uFFFD") : line);
