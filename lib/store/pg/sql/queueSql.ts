/**
 * The queue's statements. Each is one statement (CTEs), so that it commits or fails whole and its
 * NOTIFY is delivered at commit, with the rows it changed.
 *
 * ## Lanes
 *
 * Every pipeline row carries its queue lane: `running_run_id` (its running run, if any), `head_seq`
 * (the seq of its oldest queued run, if any), `queued_count` (how many are queued: a new run's place
 * in the queue without counting them) and `lane_version` (bumped by every write below that
 * changes the lane or the queued/running state of its runs). A lane is ready when nothing runs and
 * something is queued; the partial index pipelines_ready holds exactly the ready lanes, by head_seq.
 * A claim locks the first ready lane it can with SKIP LOCKED, marks its head run running and moves the
 * head to the next queued run of that pipeline (an index probe on runs_queued): O(log n) however many
 * runs wait behind the head. The unique index runs_one_running_per_pipeline backs the lane up: whatever
 * writes, a pipeline never has two running runs.
 *
 * ## Why this is safe under READ COMMITTED
 *
 * Every write that changes which of a lane's runs are queued or running (trigger, claim, finish,
 * release, recovery, delete, cancelQueued, cancel) locks the lane's row first, by primary key or through
 * pipelines_ready, and holds it until it commits: writes to one lane are serialised and each starts
 * from the lane its predecessor left. (Stage updates and lease renewals lock only their run.)
 * - Trigger (controlSql.ts) locks the lane (plain FOR UPDATE: it waits), inserts the run, sets
 *   head_seq only if the lane had none. Its run's seq is drawn after the lock, so per-pipeline seq
 *   order is commit order. A policy that cancels queued runs reads them, and so checks its snapshot
 *   as the claim does (below); when it is stale the trigger is repeated with the lane locked first.
 * - Concurrent claimers skip each other's lanes (SKIP LOCKED), and a lane another claimer just took is
 *   rechecked by FOR UPDATE on its newest version (running_run_id is set: no longer ready, skipped).
 * - The one hazard is the statement snapshot: reads in a statement see the database as of its start,
 *   while FOR UPDATE returns the newest version of the lane. If a trigger (say) committed between the
 *   two, its run is invisible to the "next head" probe, which would then set head_seq to NULL and
 *   strand that run. So the claim compares the locked lane's lane_version with the version its own
 *   snapshot sees; when they differ it claims nothing and reports `locked` without a run, and the
 *   caller repeats the statement with a fresh snapshot. When they match, no write to the lane (nor,
 *   by the rule above, to its runs) committed after the snapshot, and the probe is exact.
 *   test/lib/pgStore.queue.test.ts stages this race, with and without the check.
 * - Finish, release and recovery read nothing but the lane and the run they lock (their SET clauses
 *   see newest versions through PostgreSQL's recheck), so their snapshots cannot mislead them.
 * - Delete, cancelQueued and cancel lock lanes in one statement and change runs in a second one, whose fresh
 *   snapshot sees every run committed before the lock; no trigger can add one to a locked lane.
 * Deadlock: lanes are locked before runs, and nothing holding a run waits for a lane; claim and
 * recovery skip locked lanes; the only statement that waits on several lanes (cancelQueued) takes
 * them in id order.
 */
import { TRIGGER_RUN } from "./controlSql.ts";
import { attemptsSql, closeStagesSql, isoTextSql, patchRunStageSql } from "./stagesSql.ts";
import { appendLinesCtes, hasFollowersSql } from "./logsSql.ts";
import { runColumns } from "../rows.ts";

/**
 * $1 now, $2 worker id, $3 claim token, $4 lease expiry. One row: `locked` (0 or 1) and, if a run was
 * claimed, what its worker needs (ClaimedRow: its spec, repository and env, its pipeline's name, a
 * cancel asked for before a hand-back), not the whole run, whose lines would be read for nothing.
 */
export const CLAIM_RUN = `
WITH lane AS (
  SELECT id, name, head_seq, lane_version, freed_at FROM pipelines
  WHERE running_run_id IS NULL AND head_seq IS NOT NULL
  ORDER BY head_seq
  LIMIT 1
  FOR UPDATE SKIP LOCKED
), current_lane AS (
  -- The lane as this statement's snapshot sees it must be the lane we locked (see above).
  SELECT lane.id, lane.name, lane.head_seq, lane.freed_at FROM lane JOIN pipelines seen ON seen.id = lane.id AND seen.lane_version = lane.lane_version
), claimed AS (
  -- The first stage starts with the run: one write, not two.
  UPDATE runs r SET status = 'running',
    started_at = greatest($1::text::timestamptz, l.freed_at), updated_at = greatest($1::text::timestamptz, l.freed_at),
    stages = jsonb_set(r.stages, '{0}', (r.stages -> 0) || jsonb_build_object('status', 'running', 'started_at', ${isoTextSql("greatest($1::text::timestamptz, l.freed_at)")},
      'attempts', ${attemptsSql("(r.stages -> 0)")} + 1)),
    worker_id = $2, claim_token = $3, lease_expires_at = $4::text::timestamptz
  FROM current_lane l
  WHERE r.seq = l.head_seq AND r.status = 'queued'
  RETURNING r.id, r.seq, r.pipeline_id, r.git_ref, r.env, r.spec, r.repository, r.cancel_error
), lane_after AS (
  -- The next head: the first queued run after the claimed one in (pipeline, seq) order, if it is of the
  -- same pipeline. Written as a row comparison so that only runs_queued serves it, one index probe;
  -- "pipeline_id = x AND seq > y ORDER BY seq" lets the planner walk runs_seq_key across every
  -- pipeline's runs instead, which it does when one pipeline dominates the queue.
  UPDATE pipelines p SET running_run_id = c.id, lane_version = p.lane_version + 1, queued_count = p.queued_count - 1,
    head_seq = (SELECT CASE WHEN n.pipeline_id = c.pipeline_id THEN n.seq END FROM (
      SELECT q.pipeline_id, q.seq FROM runs q
      WHERE q.status = 'queued' AND (q.pipeline_id, q.seq) > (c.pipeline_id, c.seq)
      ORDER BY q.pipeline_id, q.seq LIMIT 1) AS n)
  FROM claimed c WHERE p.id = c.pipeline_id
)
SELECT (SELECT count(*) FROM lane)::int AS locked, c.id, c.pipeline_id, c.git_ref, c.env, c.spec, c.repository, c.cancel_error,
  (SELECT name FROM current_lane) AS pipeline_name
FROM (SELECT 1) AS one LEFT JOIN claimed c ON true`;

/** Whether stage $3 (and, when $7, the stage after it) exists in `r.stages`. */
const STAGES_EXIST = "$3::int >= 0 AND $3::int + (CASE WHEN $7::boolean THEN 1 ELSE 0 END) < jsonb_array_length(r.stages)";

/**
 * $1 run, $2 token, $3 stage index, $4 new status or NULL, $5 log lines (text[]), $6 now, $7 start the
 * next stage, $8 run channel.
 */
export const UPDATE_STAGE = `
WITH run AS (
  UPDATE runs r SET updated_at = $6::text::timestamptz,
    stages = ${patchRunStageSql("r.stages", "$3::int", "$4::text", "$6::text", "$7::boolean")},
    last_seq = r.last_seq + cardinality($5::text[]), stage_lines[$3::int + 1] = r.stage_lines[$3::int + 1] + cardinality($5::text[])
  WHERE r.id = $1 AND r.claim_token = $2 AND r.status = 'running' AND ${STAGES_EXIST}
  RETURNING r.id, r.last_seq - cardinality($5::text[]) AS seq_before, r.stage_lines[$3::int + 1] AS given
), ${appendLinesCtes("run", "$3::int", "$5::text[]", "$6::text::timestamptz")}, run_notified AS (
  SELECT pg_notify($8, $1::text) FROM run WHERE ${hasFollowersSql("$1")}
)
SELECT run.id, (SELECT count(*) FROM run_notified) AS notified FROM run`;

/**
 * $1 run, $2 token, $3 status, $4 error, $5 now, $6 claimable channel, $7 payload, $8 its pipeline,
 * $9 the index of a last stage patch (NULL for none; checked by the caller), $10 its status, $11 its log
 * lines (text[]), $12 run channel. One row when the run was ended: whether its lane became ready. Not
 * the run: nobody reads it, and building it (stages, every log line as JSON) took a sixth of the time.
 */
export const FINISH_RUN = `
WITH lane AS (
  SELECT id FROM pipelines WHERE id = $8 AND running_run_id = $1 FOR UPDATE
), ended AS (
  UPDATE runs r SET status = $3::text, error = $4,
    stages = ${closeStagesSql(`CASE WHEN $9::int IS NULL THEN r.stages ELSE ${patchRunStageSql("r.stages", "$9::int", "$10::text", "$5::text", "false")} END`, "$3::text", "$5::text")},
    finished_at = $5::text::timestamptz, updated_at = $5::text::timestamptz, claim_token = NULL, lease_expires_at = NULL,
    last_seq = r.last_seq + cardinality($11::text[]), stage_lines[coalesce($9::int, 0) + 1] = r.stage_lines[coalesce($9::int, 0) + 1] + cardinality($11::text[])
  FROM lane
  WHERE r.id = $1 AND r.pipeline_id = lane.id AND r.claim_token = $2 AND r.status = 'running'
  RETURNING r.id, r.pipeline_id, r.finished_at, r.last_seq - cardinality($11::text[]) AS seq_before, r.stage_lines[coalesce($9::int, 0) + 1] AS given
), ${appendLinesCtes("ended", "coalesce($9::int, 0)", "$11::text[]", "$5::text::timestamptz")}, run_notified AS (
  SELECT pg_notify($12, $1::text) FROM ended WHERE ${hasFollowersSql("$1")}
), lane_after AS (
  UPDATE pipelines p SET running_run_id = NULL, lane_version = p.lane_version + 1, freed_at = ended.finished_at
  FROM ended WHERE p.id = ended.pipeline_id
  RETURNING p.head_seq IS NOT NULL AS became_ready
), notified AS (
  SELECT pg_notify($6, $7) FROM lane_after WHERE became_ready
)
SELECT lane_after.became_ready, (SELECT count(*) FROM notified) + (SELECT count(*) FROM run_notified) AS notified
FROM lane_after`;

/**
 * $1 run, $2 token, $3 now, $4 the released stages, $5 claimable channel, $6 payload, $7 its pipeline,
 * $8 the one line its log keeps, $9 run channel. The run goes back to the head of its lane: it was the
 * head when claimed, and everything queued since is younger.
 */
export const RELEASE_RUN = `
WITH lane AS (
  SELECT id FROM pipelines WHERE id = $7 AND running_run_id = $1 FOR UPDATE
), released AS (
  UPDATE runs r SET status = 'queued', started_at = NULL, updated_at = $3::text::timestamptz, stages = $4::jsonb,
    claim_token = NULL, lease_expires_at = NULL, last_seq = r.last_seq + 1, stage_lines = '{1,0,0}'
  FROM lane
  WHERE r.id = $1 AND r.pipeline_id = lane.id AND r.claim_token = $2 AND r.status = 'running'
  RETURNING r.seq, r.pipeline_id, r.last_seq
), cleared_lines AS (
  DELETE FROM run_lines l USING released WHERE l.run_id = $1
), reason_line AS (
  INSERT INTO run_lines (run_id, seq, stage, pos, at, text) SELECT $1, released.last_seq, 0, 1, $3::text::timestamptz, $8 FROM released
), run_notified AS (
  SELECT pg_notify($9, $1::text) FROM released WHERE ${hasFollowersSql("$1")}
), lane_after AS (
  UPDATE pipelines p SET running_run_id = NULL, head_seq = released.seq, lane_version = p.lane_version + 1, queued_count = p.queued_count + 1,
    freed_at = $3::text::timestamptz
  FROM released WHERE p.id = released.pipeline_id
), notified AS (
  SELECT pg_notify($5, $6) FROM released
)
SELECT (SELECT count(*) FROM released)::int AS released, (SELECT count(*) FROM notified) AS notified`;

/**
 * $1 run ids, $2 their tokens, $3 new lease expiry. Returns the tokens still held, each with the error
 * of a cancel asked for (its watchers are told, should the notification have been missed).
 */
export const RENEW_LEASES = `
UPDATE runs r SET lease_expires_at = $3::text::timestamptz
FROM unnest($1::uuid[], $2::uuid[]) AS held(id, token)
WHERE r.id = held.id AND r.claim_token = held.token AND r.status = 'running'
RETURNING r.claim_token AS token, r.cancel_error`;

/**
 * $1 now, $2 batch size, $3 error, $4 claimable channel, $5 payload, $6 cancel channel. Fails running
 * runs whose lease ran out (a run whose cancel was asked for ends cancelled, with the cancel's error:
 * what its worker would have done), frees their lanes and tells their watchers. Lanes another write holds are
 * skipped until the next sweep; a lease renewed meanwhile is seen by the recheck of the UPDATE.
 */
export const RECOVER_EXPIRED = `
WITH expired AS (
  SELECT p.id AS pipeline_id, r.id AS run_id, r.claim_token
  FROM runs r JOIN pipelines p ON p.id = r.pipeline_id AND p.running_run_id = r.id
  WHERE r.status = 'running' AND r.lease_expires_at < $1::text::timestamptz
  ORDER BY r.lease_expires_at
  LIMIT $2
  FOR UPDATE OF p SKIP LOCKED
), failed AS (
  UPDATE runs r SET status = CASE WHEN r.cancel_error IS NULL THEN 'failed' ELSE 'cancelled' END, error = coalesce(r.cancel_error, $3::text),
    stages = ${closeStagesSql("r.stages", "CASE WHEN r.cancel_error IS NULL THEN 'failed' ELSE 'cancelled' END", "$1::text")},
    finished_at = $1::text::timestamptz, updated_at = $1::text::timestamptz, claim_token = NULL, lease_expires_at = NULL
  FROM expired e
  WHERE r.id = e.run_id AND r.status = 'running' AND r.lease_expires_at < $1::text::timestamptz
  RETURNING ${runColumns("r.")}, e.claim_token AS lost_token
), lane_after AS (
  UPDATE pipelines p SET running_run_id = NULL, lane_version = p.lane_version + 1, freed_at = failed.finished_at
  FROM failed WHERE p.id = failed.pipeline_id
  RETURNING p.head_seq IS NOT NULL AS became_ready
), claimable AS (
  SELECT pg_notify($4, $5) WHERE EXISTS (SELECT 1 FROM lane_after WHERE became_ready)
), lost AS (
  SELECT pg_notify($6, json_build_object('token', lost_token, 'reason', error)::text) FROM failed
)
SELECT failed.*, (SELECT count(*) FROM claimable) > 0 AS became_ready, (SELECT count(*) FROM lost) AS notified
FROM failed`;

/** Step 1 of a delete: $1 pipeline. Removes the lane (and waits for whoever holds it). */
export const DELETE_PIPELINE = "DELETE FROM pipelines WHERE id = $1 RETURNING id";

/** Step 2 of a delete: $1 pipeline, $2 reason, $3 now, $4 cancel channel. Cancels its open runs, oldest first. */
export const CANCEL_PIPELINE_RUNS = `
WITH open AS (
  SELECT id, status, claim_token FROM runs WHERE pipeline_id = $1 AND status IN ('queued', 'running') FOR UPDATE
), cancelled AS (
  UPDATE runs r SET status = 'cancelled', error = $2::text, stages = ${closeStagesSql("r.stages", "'cancelled'", "$3::text")},
    finished_at = $3::text::timestamptz, updated_at = $3::text::timestamptz, claim_token = NULL, lease_expires_at = NULL
  FROM open
  WHERE r.id = open.id
  RETURNING ${runColumns("r.")}, open.status AS was, open.claim_token AS lost_token
), lost AS (
  SELECT pg_notify($4, json_build_object('token', lost_token, 'reason', $2::text)::text) FROM cancelled WHERE was = 'running'
)
SELECT cancelled.*, (SELECT count(*) FROM lost) AS notified FROM cancelled ORDER BY seq`;

/** Step 1 of cancelQueued: empties every lane that has queued runs, locking them in id order. */
export const EMPTY_LANES = `
WITH locked AS (
  SELECT id FROM pipelines WHERE head_seq IS NOT NULL ORDER BY id FOR UPDATE
)
UPDATE pipelines p SET head_seq = NULL, lane_version = p.lane_version + 1, queued_count = 0
FROM locked WHERE p.id = locked.id
RETURNING p.id`;

/** Step 2 of cancelQueued: $1 the emptied lanes, $2 reason, $3 now. */
export const CANCEL_QUEUED = `
WITH cancelled AS (
  UPDATE runs r SET status = 'cancelled', error = $2::text, stages = ${closeStagesSql("r.stages", "'cancelled'", "$3::text")},
    finished_at = $3::text::timestamptz, updated_at = $3::text::timestamptz
  WHERE r.pipeline_id = ANY($1::uuid[]) AND r.status = 'queued'
  RETURNING ${runColumns("r.")}
)
SELECT * FROM cancelled ORDER BY seq`;

/** Why a claim's write was refused: $1 run. */
export const CLAIM_STATE = "SELECT status, claim_token FROM runs WHERE id = $1";

/** The hot path's statements, named so that each connection parses and plans them once. */
export const HOT = {
  TRIGGER_RUN: { name: "stagerunner_trigger_run", text: TRIGGER_RUN },
  CLAIM_RUN: { name: "stagerunner_claim_run", text: CLAIM_RUN },
  UPDATE_STAGE: { name: "stagerunner_update_stage", text: UPDATE_STAGE },
  FINISH_RUN: { name: "stagerunner_finish_run", text: FINISH_RUN },
};
