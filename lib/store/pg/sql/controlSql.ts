/**
 * Run control's statements: the trigger with the pipeline's concurrency policy, cancel, a stage's
 * attempt count, and where a queued run stands. Lanes and the locking rules are those of
 * lib/store/pg/sql/queueSql.ts.
 */
import { hasFollowersSql } from "./logsSql.ts";
import { runColumns } from "../rows.ts";
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
 * The runs of `page` (a SELECT of runColumns(), newest first) with queue_position and waiting_for, as
 * queuePlaceSql gives them, from one pass over the queued runs of the pipelines it has queued runs
 * of: counting per row would take 600 ms for a page of 1,000 runs queued in one pipeline (measured).
 */
export const withQueuePlacesSql = (page: string): string => `
WITH page AS (${page}), places AS (
  SELECT q.id, row_number() OVER w AS queue_position, lag('run ' || q.id) OVER w AS ahead
  FROM runs q
  WHERE q.status = 'queued' AND q.pipeline_id IN (SELECT pipeline_id FROM page WHERE status = 'queued')
  WINDOW w AS (PARTITION BY q.pipeline_id ORDER BY q.seq)
)
SELECT page.*, places.queue_position, CASE WHEN page.status = 'queued' THEN coalesce(places.ahead,
    (SELECT 'run ' || r.id FROM runs r WHERE r.status = 'running' AND r.pipeline_id = page.pipeline_id), 'a free worker') END AS waiting_for
FROM page LEFT JOIN places ON places.id = page.id
ORDER BY page.seq DESC`;

/** A run to queue: the SQL expressions of its spec, repository and rerun_of (over the locked lane `go`). */
interface Source {
  spec: string;
  repository: string;
  rerunOf: string;
}

/** A trigger's run: the pipeline's stages and repository as they are now. */
const TRIGGERED: Source = { spec: "go.stages", repository: "go.repository", rerunOf: "NULL::uuid" };
/** A rerun's: the spec and repository of the run `original` (a parameter), or the pipeline's if that is gone meanwhile. */
const rerunOf = (original: string): Source => ({
  spec: `coalesce((SELECT o.spec FROM runs o WHERE o.id = ${original}::uuid), go.stages)`,
  repository: `coalesce((SELECT o.repository FROM runs o WHERE o.id = ${original}::uuid), go.repository)`,
  rerunOf: `${original}::uuid`,
});

/** The lane, locked, and the run inserted into it from `go` (the lane, if the statement writes). */
const insertSql = (go: string, source: Source): string => `
WITH lane AS (
  SELECT id, stages, repository, concurrency, running_run_id, head_seq, lane_version FROM pipelines WHERE id = $1 FOR UPDATE
), go AS (
  ${go}
), run AS (
  INSERT INTO runs (id, pipeline_id, git_ref, env, status, stages, spec, repository, created_at, updated_at, rerun_of)
  SELECT $2::uuid, go.id, $3, $8::jsonb, 'queued', ${pendingStagesSql(source.spec, "$5::text[]")}, ${source.spec}, ${source.repository},
    $4::text::timestamptz, $4::text::timestamptz, ${source.rerunOf}
  FROM go
  RETURNING *
)`;

/** The reply: `locked` (0 for no such pipeline), the run (none if nothing was written; a new run has no lines), its place. */
const replySql = (extra: string): string => `
SELECT (SELECT count(*) FROM lane)::int AS locked, ${runColumns("run.", "NULL::json AS lines")}, lane_after.ready, place.queue_position, place.waiting_for,
  (SELECT count(*) FROM notified) AS notified${extra}
FROM (SELECT 1) AS one LEFT JOIN run ON true LEFT JOIN lane_after ON true LEFT JOIN place ON true`;

/**
 * $1 pipeline, $2 run id, $3 git ref, $4 now, $5 stage kinds, $6 claimable channel, $7 payload, $8 env
 * (and for a rerun $9 the original). Queues a run on a pipeline whose policy is `queue`; on another it
 * writes nothing and answers `locked` without a run (POLICY_RUN is for those). Notifies whenever the
 * lane is ready afterwards, not only when it became ready: a claimer that came while this statement
 * held the lane skipped it (SKIP LOCKED), may have found nothing else and gone idle, and would
 * otherwise wait for the fallback poll. The run its reply names as ahead of it is as of the
 * statement's snapshot (one index probe), its place exact (the lane's count).
 */
const queueRunSql = (source: Source): string => `${insertSql("SELECT lane.* FROM lane WHERE lane.concurrency = 'queue'", source)}, lane_after AS (
  UPDATE pipelines p SET head_seq = coalesce(p.head_seq, run.seq), lane_version = p.lane_version + 1, queued_count = p.queued_count + 1
  FROM run WHERE p.id = run.pipeline_id
  RETURNING p.running_run_id IS NULL AS ready, p.queued_count
), place AS (
  SELECT l.queued_count AS queue_position, coalesce(CASE WHEN l.queued_count > 1 THEN
      (SELECT 'run ' || q.id FROM runs q WHERE q.status = 'queued' AND q.pipeline_id = go.id ORDER BY q.seq DESC LIMIT 1) END,
    'run ' || go.running_run_id, 'a free worker') AS waiting_for
  FROM go, lane_after l
), notified AS (
  SELECT pg_notify($6, $7) FROM lane_after WHERE ready
)${replySql("")}`;

/**
 * As queueRunSql, for a `supersede` or `cancel_in_progress` pipeline, with $9 the cancel channel (and
 * for a rerun $10 the original): the pipeline's queued runs end cancelled ("superseded by run <id>"),
 * and under cancel_in_progress its running run's cancel is recorded and its worker told. Reading the
 * queued runs needs a snapshot in which the locked lane is current (lane_version, as the claim checks
 * it: see queueSql.ts); when it is not, the statement writes nothing (`locked` without a run) and the
 * caller repeats it with the lane locked first.
 */
const policyRunSql = (source: Source): string => `${insertSql("SELECT lane.* FROM lane WHERE lane.concurrency <> 'queue' AND lane.lane_version = (SELECT seen.lane_version FROM pipelines seen WHERE seen.id = lane.id)", source)}, superseded AS (
  UPDATE runs r SET status = 'cancelled', error = 'superseded by run ' || $2::uuid::text, stages = ${closeStagesSql("r.stages", "'cancelled'", "$4::text")},
    finished_at = $4::text::timestamptz, updated_at = $4::text::timestamptz
  FROM go WHERE r.pipeline_id = go.id AND r.status = 'queued'
  RETURNING r.id
), requested AS (
  UPDATE runs r SET cancel_requested_at = $4::text::timestamptz, cancel_error = 'superseded by run ' || $2::uuid::text, updated_at = $4::text::timestamptz
  FROM go WHERE go.concurrency = 'cancel_in_progress' AND r.id = go.running_run_id AND r.status = 'running' AND r.cancel_requested_at IS NULL
  RETURNING r.claim_token
), lane_after AS (
  UPDATE pipelines p SET head_seq = run.seq, lane_version = p.lane_version + 1, queued_count = 1
  FROM run WHERE p.id = run.pipeline_id
  RETURNING p.running_run_id IS NULL AS ready
), place AS (
  SELECT 1 AS queue_position, coalesce('run ' || go.running_run_id, 'a free worker') AS waiting_for FROM go
), notified AS (
  SELECT pg_notify($6, $7) FROM lane_after WHERE ready
), told AS (
  SELECT pg_notify($9, ${cancelNotice("claim_token", "'superseded by run ' || $2::uuid::text")}) FROM requested
)${replySql(", (SELECT claim_token FROM requested) AS cancel_token, (SELECT count(*) FROM told) AS told")}`;

/** A trigger on a `queue` pipeline: the hot one (see queueRunSql). */
export const TRIGGER_RUN = queueRunSql(TRIGGERED);
/** A rerun, $9 the original (see queueRunSql). */
export const RERUN_RUN = queueRunSql(rerunOf("$9"));
/** A trigger on a pipeline with a policy (see policyRunSql). */
export const POLICY_TRIGGER_RUN = policyRunSql(TRIGGERED);
/** A rerun on a pipeline with a policy, $10 the original (see policyRunSql). */
export const POLICY_RERUN_RUN = policyRunSql(rerunOf("$10"));

/** Step 1 of a cancel, or of a trigger repeated: $1 run (or NULL), $2 pipeline (or NULL). Locks the lane. */
export const LOCK_LANE = "SELECT id FROM pipelines WHERE id = coalesce($2::uuid, (SELECT pipeline_id FROM runs WHERE id = $1::uuid)) FOR UPDATE";

/**
 * Step 2 of a cancel, its lane locked (so the run's status cannot change under it, and this
 * statement's snapshot sees every run of the lane): $1 run, $2 error, $3 now, $4 cancel channel,
 * $5 claimable channel, $6 payload, $7 run channel (told when the run has followers). A queued run
 * ends cancelled and the lane's head moves past it; a running run's cancel is recorded (the first request's time and error) and its worker told; a
 * finished run is read as it is. As a trigger does, it notifies when the lane is ready afterwards: a
 * claimer may have skipped the locked lane and gone idle.
 */
export const CANCEL_RUN = `
WITH target AS (
  SELECT id, pipeline_id, status FROM runs WHERE id = $1 FOR UPDATE
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
  RETURNING p.running_run_id IS NULL AND p.head_seq IS NOT NULL AS ready
), lane_now AS (
  SELECT ready FROM lane_after
  UNION ALL SELECT p.running_run_id IS NULL AND p.head_seq IS NOT NULL FROM pipelines p JOIN target t ON p.id = t.pipeline_id
    WHERE NOT EXISTS (SELECT 1 FROM lane_after)
), notified AS (
  SELECT pg_notify($5, $6) FROM lane_now WHERE ready
), told AS (
  SELECT pg_notify($4, ${cancelNotice("claim_token", "$2::text")}) FROM requested
), run_notified AS (
  SELECT pg_notify($7, c.id::text) FROM (SELECT id FROM cancelled UNION ALL SELECT id FROM requested) AS c WHERE ${hasFollowersSql("c.id")}
), outcome AS (
  SELECT ${runColumns("cancelled.")}, 'cancelled' AS outcome FROM cancelled
  UNION ALL SELECT ${runColumns("requested.")}, 'requested' FROM requested
  UNION ALL SELECT ${runColumns("r.")}, CASE WHEN t.status = 'running' THEN 'requested' ELSE 'finished' END FROM runs r JOIN target t ON t.id = r.id
    WHERE NOT EXISTS (SELECT 1 FROM cancelled) AND NOT EXISTS (SELECT 1 FROM requested)
)
SELECT outcome.*, (SELECT claim_token FROM requested) AS cancel_token, (SELECT count(*) FROM notified) > 0 AS ready,
  (SELECT count(*) FROM told) AS told, (SELECT count(*) FROM run_notified) AS run_told
FROM outcome`;

/** $1 run, $2 token, $3 stage index, $4 attempt, $5 now. Sets a stage's attempt count (a retry starts). */
export const SET_ATTEMPT = `
UPDATE runs r SET updated_at = $5::text::timestamptz, stages = jsonb_set(r.stages, ARRAY[$3::int::text, 'attempts'], to_jsonb($4::int))
WHERE r.id = $1 AND r.claim_token = $2 AND r.status = 'running' AND $3::int >= 0 AND $3::int < jsonb_array_length(r.stages)
RETURNING r.id`;

/** $1 run: what a rerun copies (its spec and repository are copied by the enqueue statement). */
export const RERUN_SOURCE = "SELECT pipeline_id, git_ref, env FROM runs WHERE id = $1";

/** $1 run: what a new watch of its claim needs to know. */
export const WATCH_STATE = "SELECT status, claim_token, cancel_error FROM runs WHERE id = $1";
