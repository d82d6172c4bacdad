/**
 * Run control's statements: the trigger with the pipeline's concurrency policy, cancel, a stage's
 * attempt count, and where a queued run stands. Lanes and the locking rules are those of
 * lib/store/pg/queueSql.ts.
 */
import { runColumns } from "./rows.ts";
import { closeStagesSql, pendingStagesSql } from "./stagesSql.ts";

/** The cancel channel's notice that a claim's run is to be cancelled with `error` (SQL expressions). */
const cancelNotice = (token: string, error: string): string => `json_build_object('kind', 'cancel', 'token', ${token}, 'error', ${error})::text`;

/**
 * The columns queue_position and waiting_for of run `r`, NULL unless it is queued: the runs queued
 * ahead of it are counted (runs_queued), so a read costs O(runs ahead) for a queued run and nothing
 * for others.
 */
export const queuePlaceSql = (r: string): string => `
  CASE WHEN ${r}.status = 'queued' THEN (
    SELECT count(*) FROM runs q WHERE q.status = 'queued' AND q.pipeline_id = ${r}.pipeline_id AND q.seq <= ${r}.seq) END AS queue_position,
  CASE WHEN ${r}.status = 'queued' THEN coalesce(
    (SELECT 'run ' || q.id FROM runs q WHERE q.status = 'queued' AND q.pipeline_id = ${r}.pipeline_id AND q.seq < ${r}.seq ORDER BY q.seq DESC LIMIT 1),
    (SELECT 'run ' || q.id FROM runs q WHERE q.status = 'running' AND q.pipeline_id = ${r}.pipeline_id),
    'a free worker') END AS waiting_for`;

/**
 * $1 pipeline, $2 run id, $3 git ref, $4 now, $5 stage kinds, $6 claimable channel, $7 payload,
 * $8 the run this one reruns (NULL for a trigger: its spec is then the pipeline's stages), $9 cancel channel.
 *
 * The policy reads the lane's queued runs, so, like a claim, it needs a snapshot in which the lane it
 * locked is current (lane_version, see queueSql.ts): when it is not, a `supersede` or
 * `cancel_in_progress` trigger writes nothing (`locked` without a run) and the caller repeats it with
 * the lane locked first. A `queue` trigger writes anyway (it reads nothing to decide); only the run
 * its reply names as ahead of it is as of its snapshot. Notifies the claimable channel whenever the lane is ready
 * afterwards (a claimer may have skipped the locked lane and gone idle), and the cancel channel for a
 * running run asked to cancel.
 */
export const TRIGGER_RUN = `
WITH lane AS (
  SELECT id, stages, concurrency, running_run_id, head_seq, lane_version FROM pipelines WHERE id = $1 FOR UPDATE
), go AS (
  SELECT lane.* FROM lane
  WHERE lane.concurrency = 'queue' OR lane.lane_version = (SELECT seen.lane_version FROM pipelines seen WHERE seen.id = lane.id)
), source AS (
  SELECT go.id, CASE WHEN $8::uuid IS NULL THEN go.stages ELSE coalesce((SELECT o.spec FROM runs o WHERE o.id = $8::uuid), go.stages) END AS spec
  FROM go
), superseded AS (
  UPDATE runs r SET status = 'cancelled', error = 'superseded by run ' || $2::uuid::text, stages = ${closeStagesSql("r.stages", "'cancelled'", "$4::text")},
    finished_at = $4::text::timestamptz, updated_at = $4::text::timestamptz
  FROM go WHERE go.concurrency <> 'queue' AND r.pipeline_id = go.id AND r.status = 'queued'
  RETURNING r.id
), requested AS (
  UPDATE runs r SET cancel_requested_at = $4::text::timestamptz, cancel_error = 'superseded by run ' || $2::uuid::text, updated_at = $4::text::timestamptz
  FROM go WHERE go.concurrency = 'cancel_in_progress' AND r.id = go.running_run_id AND r.status = 'running' AND r.cancel_requested_at IS NULL
  RETURNING r.claim_token
), run AS (
  INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, created_at, updated_at, rerun_of)
  SELECT $2::uuid, source.id, $3, 'queued', ${pendingStagesSql("source.spec", "$5::text[]")}, source.spec, $4::text::timestamptz, $4::text::timestamptz, $8::uuid
  FROM source
  RETURNING *
), lane_after AS (
  UPDATE pipelines p SET lane_version = p.lane_version + 1,
    head_seq = CASE WHEN go.concurrency = 'queue' THEN coalesce(p.head_seq, run.seq) ELSE run.seq END,
    queued_count = CASE WHEN go.concurrency = 'queue' THEN p.queued_count + 1 ELSE 1 END
  FROM run, go WHERE p.id = run.pipeline_id
  RETURNING p.running_run_id IS NULL AS ready, p.queued_count
), place AS (
  -- Last in the lane; the run ahead is the newest queued one this snapshot sees (one index probe).
  SELECT l.queued_count AS queue_position, coalesce(CASE WHEN l.queued_count > 1 THEN
             (SELECT 'run ' || q.id FROM runs q WHERE q.status = 'queued' AND q.pipeline_id = go.id ORDER BY q.seq DESC LIMIT 1) END,
           'run ' || go.running_run_id, 'a free worker') AS waiting_for
  FROM go, lane_after l
), notified AS (
  SELECT pg_notify($6, $7) FROM lane_after WHERE ready
), told AS (
  SELECT pg_notify($9, ${cancelNotice("claim_token", "'superseded by run ' || $2::uuid::text")}) FROM requested
)
SELECT (SELECT count(*) FROM lane)::int AS locked, ${runColumns("run.")}, lane_after.ready, place.queue_position, place.waiting_for,
  (SELECT claim_token FROM requested) AS cancel_token, (SELECT count(*) FROM notified) + (SELECT count(*) FROM told) AS notified
FROM (SELECT 1) AS one LEFT JOIN run ON true LEFT JOIN lane_after ON true LEFT JOIN place ON true`;

/** Step 1 of a cancel, or of a trigger repeated: $1 run (or NULL), $2 pipeline (or NULL). Locks the lane. */
export const LOCK_LANE = "SELECT id FROM pipelines WHERE id = coalesce($2::uuid, (SELECT pipeline_id FROM runs WHERE id = $1::uuid)) FOR UPDATE";

/**
 * Step 2 of a cancel, its lane locked (so the run's status cannot change under it, and this
 * statement's snapshot sees every run of the lane): $1 run, $2 error, $3 now, $4 cancel channel.
 * A queued run ends cancelled and the lane's head moves past it; a running run's cancel is recorded
 * (the first request's time and error) and its worker told; a finished run is read as it is.
 */
export const CANCEL_RUN = `
WITH target AS (
  SELECT id, status FROM runs WHERE id = $1 FOR UPDATE
), cancelled AS (
  UPDATE runs r SET status = 'cancelled', error = $2::text, stages = ${closeStagesSql("r.stages", "'cancelled'", "$3::text")},
    finished_at = $3::text::timestamptz, updated_at = $3::text::timestamptz
  FROM target t WHERE r.id = t.id AND t.status = 'queued'
  RETURNING r.*
), requested AS (
  UPDATE runs r SET cancel_requested_at = $3::text::timestamptz, cancel_error = $2::text, updated_at = $3::text::timestamptz
  FROM target t WHERE r.id = t.id AND t.status = 'running' AND r.cancel_requested_at IS NULL
  RETURNING r.*
), lane_after AS (
  UPDATE pipelines p SET lane_version = p.lane_version + 1, queued_count = p.queued_count - 1,
    head_seq = CASE WHEN p.head_seq = c.seq THEN (SELECT CASE WHEN n.pipeline_id = c.pipeline_id THEN n.seq END FROM (
      SELECT q.pipeline_id, q.seq FROM runs q
      WHERE q.status = 'queued' AND (q.pipeline_id, q.seq) > (c.pipeline_id, c.seq)
      ORDER BY q.pipeline_id, q.seq LIMIT 1) AS n) ELSE p.head_seq END
  FROM cancelled c WHERE p.id = c.pipeline_id
  RETURNING p.id
), told AS (
  SELECT pg_notify($4, ${cancelNotice("claim_token", "$2::text")}) FROM requested
), outcome AS (
  SELECT ${runColumns()}, 'cancelled' AS outcome FROM cancelled
  UNION ALL SELECT ${runColumns()}, 'requested' FROM requested
  UNION ALL SELECT ${runColumns("r.")}, CASE WHEN t.status = 'running' THEN 'requested' ELSE 'finished' END FROM runs r JOIN target t ON t.id = r.id
    WHERE NOT EXISTS (SELECT 1 FROM cancelled) AND NOT EXISTS (SELECT 1 FROM requested)
)
SELECT outcome.*, (SELECT claim_token FROM requested) AS cancel_token,
  (SELECT count(*) FROM lane_after) + (SELECT count(*) FROM told) AS changed
FROM outcome`;

/** $1 run, $2 token, $3 stage index, $4 attempt, $5 now. Sets a stage's attempt count (a retry starts). */
export const SET_ATTEMPT = `
UPDATE runs r SET updated_at = $5::text::timestamptz, stages = jsonb_set(r.stages, ARRAY[$3::int::text, 'attempts'], to_jsonb($4::int))
WHERE r.id = $1 AND r.claim_token = $2 AND r.status = 'running' AND $3::int >= 0 AND $3::int < jsonb_array_length(r.stages)
RETURNING r.id`;

/** $1 run: what a rerun copies. */
export const RERUN_SOURCE = "SELECT pipeline_id, git_ref FROM runs WHERE id = $1";

/** $1 run: what a new watch of its claim needs to know. */
export const WATCH_STATE = "SELECT status, claim_token, cancel_error FROM runs WHERE id = $1";
