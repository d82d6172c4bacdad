/**
 * Statements on pipelines and runs that leave the queue as it is: a pipeline's fields (its lane is
 * lib/store/pg/sql/queueSql.ts's business) and reads of pipelines and runs.
 */
import { queuePlaceSql, withQueuePlacesSql } from "./controlSql.ts";
import type pg from "pg";
import type { Pipeline, Run } from "../../../api/schemas.ts";
import { decodeCursor } from "../../cursor.ts";
import type { ListRunsFilter, Page } from "../../store.ts";
import { query } from "../database.ts";
import { isRowId, page, PIPELINE_COLUMNS, runColumns, toPipeline, toRun, type PipelineRow, type RunRow } from "../rows.ts";

/** $1 id, $2 name, $3 repository, $4 stages, $5 now, $6 concurrency. */
export const INSERT_PIPELINE = `
INSERT INTO pipelines (id, name, repository, stages, created_at, updated_at, concurrency)
VALUES ($1, $2, $3, $4::jsonb, $5::text::timestamptz, $5::text::timestamptz, $6)
RETURNING ${PIPELINE_COLUMNS}`;

/** $1 id. */
export const SELECT_PIPELINE = `SELECT ${PIPELINE_COLUMNS} FROM pipelines WHERE id = $1`;

/** $1 after this seq, $2 how many. */
export const LIST_PIPELINES = `SELECT ${PIPELINE_COLUMNS} FROM pipelines WHERE seq > $1 ORDER BY seq LIMIT $2`;

/**
 * $1 id, $2 name, $3 repository, $4 stages, $5 now, $6 claimable channel, $7 payload, $8 concurrency. The lane stays
 * as it is, but the row was locked: a claimer that skipped it meanwhile is told if the lane is ready.
 */
export const REPLACE_PIPELINE = `
WITH replaced AS (
  UPDATE pipelines SET name = $2, repository = $3, stages = $4::jsonb, updated_at = $5::text::timestamptz, concurrency = $8
  WHERE id = $1
  RETURNING ${PIPELINE_COLUMNS}, running_run_id IS NULL AND head_seq IS NOT NULL AS ready
), notified AS (
  SELECT pg_notify($6, $7) FROM replaced WHERE ready
)
SELECT *, (SELECT count(*) FROM notified) AS notified FROM replaced`;

/** $1 id. */
export const SELECT_RUN = `SELECT ${runColumns("r.")}, ${queuePlaceSql("r")} FROM runs r WHERE r.id = $1`;

/** Newest first: runs of an optional pipeline and status, before an optional seq; `limit` of them (ask one more than a page to learn if another follows). */
export function selectRuns(filter: { pipelineId?: string | undefined; status?: string | undefined; beforeSeq?: number | undefined; limit: number }): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where: string[] = [];
  if (filter.pipelineId !== undefined) where.push(`pipeline_id = $${values.push(filter.pipelineId)}`);
  if (filter.status !== undefined) where.push(`status = $${values.push(filter.status)}`);
  if (filter.beforeSeq !== undefined) where.push(`seq < $${values.push(filter.beforeSeq)}`);
  const text = withQueuePlacesSql(`SELECT ${runColumns()} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT $${values.push(filter.limit)}`);
  return { text, values };
}

/** Store.getPipeline. */
export async function readPipeline(pool: pg.Pool, id: string): Promise<Pipeline | undefined> {
  const [row] = isRowId(id) ? await query<PipelineRow>(pool, SELECT_PIPELINE, [id]) : [];
  return row && toPipeline(row);
}

/** Store.listPipelines. */
export async function readPipelines(pool: pg.Pool, opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>> {
  const after = opts.cursor === undefined ? 0 : decodeCursor(opts.cursor);
  return page(await query<PipelineRow>(pool, LIST_PIPELINES, [after, opts.limit + 1]), opts.limit, toPipeline);
}

/** Store.getRun. */
export async function readRun(pool: pg.Pool, id: string): Promise<Run | undefined> {
  const [row] = isRowId(id) ? await query<RunRow>(pool, SELECT_RUN, [id]) : [];
  return row && toRun(row);
}

/** Store.listRuns. */
export async function readRuns(pool: pg.Pool, filter: ListRunsFilter): Promise<Page<Run>> {
  if (filter.pipeline_id !== undefined && !isRowId(filter.pipeline_id)) return { items: [] };
  const beforeSeq = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
  const { text, values } = selectRuns({ pipelineId: filter.pipeline_id, status: filter.status, beforeSeq, limit: filter.limit + 1 });
  return page(await query<RunRow>(pool, text, values), filter.limit, toRun);
}
