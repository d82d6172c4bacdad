/**
 * Log lines as rows of run_lines (lib/store/pg/schema/migrations.ts, version 4): the SQL that appends them
 * under the per-stage cap, reads them back as the run's stage logs, and pages them for getLogs.
 *
 * The cap (appendCapped of lib/store/stages.ts) over rows: a stage keeps the lines at places 1 to
 * KEPT_FIRST_LINES, the line at the next place (its seq kept) rewritten as the marker, and the latest
 * MAX_STAGE_LINES - KEPT_FIRST_LINES - 1 lines. A line's place (pos) counts every line the stage was
 * given, so the dropped count is runs.stage_lines minus the lines kept, never read from a line's text.
 * An append past the cap inserts only the lines that stay, rewrites the marker and deletes the lines
 * that went: three CTEs on disjoint rows, as the statement's CTEs cannot see each other's rows.
 */
import type pg from "pg";
import type { LogLine, LogsPage, RunStatus } from "../../../api/schemas.ts";
import { isTerminal, KEPT_FIRST_LINES, MAX_STAGE_LINES } from "../../stages.ts";
import { query } from "../database.ts";
import { isoTextSql } from "./stagesSql.ts";

/** The place of the marker line in a capped stage. */
const MARKER_POS = KEPT_FIRST_LINES + 1;
/** Lines after the marker that a capped stage keeps. */
const LAST_LINES = MAX_STAGE_LINES - KEPT_FIRST_LINES - 1;

/** The marker's text for a stage given `given` lines (an SQL expression, over the cap). */
const markerSql = (given: string): string => `'[... ' || (${given} - ${MAX_STAGE_LINES - 1}) || ' lines dropped ...]'`;

/**
 * CTEs `added_lines`, `marked_line` and `dropped_lines` that append `texts` (text[]) to stage `stage`
 * of the run row of CTE `run`, at `at` (timestamptz). `run` has the columns id, seq_before (the run's
 * last_seq before the append) and given (the stage's runs.stage_lines after it); the caller's UPDATE
 * moves those counters, in the same statement. They return nothing: data-modifying CTEs run to the
 * end whether or not the statement reads them.
 */
export const appendLinesCtes = (run: string, stage: string, texts: string, at: string): string => `
added_lines AS (
  INSERT INTO run_lines (run_id, seq, stage, pos, at, text)
  SELECT ${run}.id, ${run}.seq_before + a.n, ${stage}, a.pos, ${at},
    CASE WHEN a.pos = ${MARKER_POS} AND ${run}.given > ${MAX_STAGE_LINES} THEN ${markerSql(`${run}.given`)} ELSE a.text END
  FROM ${run}, unnest(${texts}) WITH ORDINALITY AS t(text, n),
    LATERAL (SELECT t.text, t.n, ${run}.given - cardinality(${texts}) + t.n AS pos) AS a
  WHERE a.pos <= ${MARKER_POS} OR a.pos > ${run}.given - ${LAST_LINES}
), marked_line AS (
  UPDATE run_lines l SET text = ${markerSql(`${run}.given`)}, at = ${at}
  FROM ${run}
  WHERE ${run}.given > ${MAX_STAGE_LINES} AND cardinality(${texts}) > 0
    AND l.run_id = ${run}.id AND l.stage = ${stage} AND l.pos = ${MARKER_POS}
), dropped_lines AS (
  DELETE FROM run_lines l USING ${run}
  WHERE ${run}.given > ${MAX_STAGE_LINES} AND cardinality(${texts}) > 0
    AND l.run_id = ${run}.id AND l.stage = ${stage} AND l.pos > ${MARKER_POS} AND l.pos <= ${run}.given - ${LAST_LINES}
)`;

/** A run's lines as RunRow.lines reads them: [stage index, text] in seq order, or NULL for none. */
export const runLinesSql = (runId: string): string =>
  `(SELECT json_agg(json_build_array(l.stage, l.text) ORDER BY l.seq) FROM run_lines l WHERE l.run_id = ${runId}) AS lines`;

/**
 * $1 run, $2 after this seq, $3 how many. The run's status and up to $3 + 1 lines after $2 (one more
 * than asked, to tell whether the page holds the last ones), read in one snapshot.
 */
export const GET_LOGS = `
SELECT r.status, (
  SELECT coalesce(json_agg(json_build_object('seq', l.seq, 'stage', r.stages -> l.stage ->> 'name', 'time', ${isoTextSql("l.at")}, 'text', l.text) ORDER BY l.seq), '[]')
  FROM (SELECT * FROM run_lines WHERE run_id = r.id AND seq > $2::bigint ORDER BY seq LIMIT $3::int + 1) AS l
) AS lines
FROM runs r WHERE r.id = $1`;

/** Store.getLogs: up to `limit` lines of run `runId` after `after`; undefined for no such run. */
export async function readLogs(pool: pg.Pool, runId: string, after: number, limit: number): Promise<LogsPage | undefined> {
  const [row] = await query<{ status: RunStatus; lines: LogLine[] }>(pool, GET_LOGS, [runId, after, limit]);
  if (!row) return undefined;
  const lines = row.lines.slice(0, limit);
  // Done: the run has finished and this page holds its last lines.
  return { lines, next_after: lines.at(-1)?.seq ?? after, status: row.status, done: isTerminal(row.status) && row.lines.length <= limit };
}

/** Whether run `runId` has followers, for the NOTIFY of the statements that change it (see run_followers). */
export const hasFollowersSql = (runId: string): string => `EXISTS (SELECT 1 FROM run_followers f WHERE f.run_id = ${runId})`;

/** $1 run, $2 follower (a store instance). Nothing for an unknown run. */
export const FOLLOW_RUN = "INSERT INTO run_followers (run_id, follower) SELECT id, $2 FROM runs WHERE id = $1 ON CONFLICT DO NOTHING";

/** $1 run, $2 follower. */
export const UNFOLLOW_RUN = "DELETE FROM run_followers WHERE run_id = $1 AND follower = $2";
