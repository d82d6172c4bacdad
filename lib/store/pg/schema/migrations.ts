/**
 * The PostgreSQL schema, as versioned migrations. They are TypeScript strings rather than .sql files
 * so that a bundler (esbuild for the Lambda handlers) carries them along without loaders or copying.
 * A migration, once released, never changes: a change to the schema is a new entry at the end.
 *
 * Tables are created unqualified, in the first schema of the connection's search_path (see
 * lib/store/pg/connection.ts), so that tests can give every case a schema of its own.
 */

export interface Migration {
  /** 1, 2, 3, ... with no gaps; recorded in stagerunner_migrations once applied. */
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "pipelines, runs and the per-pipeline queue lanes",
    sql: `
-- Pipelines, and on each one its queue "lane": which run is running (if any) and the seq of its oldest
-- queued run (if any). The lane is what makes a claim O(log n): claimers look only at the lanes that
-- are ready, through pipelines_ready, never at the queued runs behind each lane's head.
-- lane_version is bumped by every write that changes the lane or its runs' queued/running states, so a
-- claim can tell whether its snapshot of the lane is current (lib/pg/queueSql.ts explains why).
CREATE TABLE pipelines (
  id             uuid PRIMARY KEY,
  seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  name           text NOT NULL,
  repository     text NOT NULL,
  stages         jsonb NOT NULL,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  running_run_id uuid,
  head_seq       bigint,
  lane_version   bigint NOT NULL DEFAULT 0,
  -- When the lane last stopped running a run (finish, release, recovery). Each process stamps times
  -- when it makes a call, so a claim stamped before a finish committed can run after it; the claim
  -- starts its run no earlier than this, and a pipeline's runs never appear to overlap.
  freed_at       timestamptz
);
CREATE INDEX pipelines_ready ON pipelines (head_seq) WHERE running_run_id IS NULL AND head_seq IS NOT NULL;

-- Runs keep their pipeline's stages as they were at trigger time (spec), and carry no foreign key to
-- pipelines: they stay readable after their pipeline is deleted.
CREATE TABLE runs (
  id               uuid PRIMARY KEY,
  seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  pipeline_id      uuid NOT NULL,
  git_ref          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('queued', 'running', 'success', 'failed', 'cancelled')),
  stages           jsonb NOT NULL,
  spec             jsonb NOT NULL,
  error            text,
  created_at       timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz NOT NULL,
  -- The last worker that claimed the run (kept after it ends, for "worker lost" forensics).
  worker_id        text,
  -- The current claim's fencing token and lease: present exactly while the run is running.
  claim_token      uuid,
  lease_expires_at timestamptz,
  CONSTRAINT runs_claim_while_running CHECK ((status = 'running') = (claim_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- One running run per pipeline, whatever code path or process writes: a second one is a unique violation.
CREATE UNIQUE INDEX runs_one_running_per_pipeline ON runs (pipeline_id) WHERE status = 'running';
-- A lane's next head after a claim: the oldest queued run of the pipeline after the claimed one.
CREATE INDEX runs_queued ON runs (pipeline_id, seq) WHERE status = 'queued';
CREATE INDEX runs_by_pipeline ON runs (pipeline_id, seq);
CREATE INDEX runs_by_status ON runs (status, seq);
-- The recovery sweep: running runs by lease expiry.
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
`,
  },
  {
    version: 2,
    name: "the stage log cap",
    sql: String.raw`
-- appendLines of lib/store/stages.ts: 'added' after 'logs', at most max_lines lines: the first
-- first_lines, then '[... N lines dropped ...]' counting every line dropped so far (a marker at index
-- first_lines of a full log is read and added to), then the latest lines. The statements that append
-- call it only past the cap (lib/store/pg/stagesSql.ts appendLinesSql): inline, the expression is
-- compiled with every execution of those statements, under the cap or not (1.5 times the run time of
-- a stage update, measured).
CREATE FUNCTION stagerunner_append_lines(logs jsonb, added jsonb, max_lines int, first_lines int) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  kept       int := jsonb_array_length(logs);
  total      int := kept + jsonb_array_length(added);
  last_lines int := max_lines - first_lines - 1;
  -- Where the lines after the first ones start in logs || added: after the marker, if there is one.
  rest       int := least(kept, first_lines);
  dropped    numeric := 0; -- numeric: a forged marker with a huge count cannot make a write fail
  marker     text;
BEGIN
  IF total <= max_lines THEN
    RETURN logs || added;
  END IF;
  IF kept = max_lines THEN
    marker := substring(logs ->> first_lines FROM '^\[\.\.\. ([0-9]+) lines dropped \.\.\.\]$');
    IF marker IS NOT NULL THEN
      dropped := marker::numeric;
      rest := first_lines + 1;
    END IF;
  END IF;
  RETURN jsonb_path_query_array(logs, '$[0 to $last]', jsonb_build_object('last', first_lines - 1))
    || jsonb_build_array('[... ' || (dropped + total - rest - last_lines) || ' lines dropped ...]')
    || jsonb_path_query_array(logs || added, '$[$from to last]', jsonb_build_object('from', greatest(rest, total - last_lines)));
END
$fn$;
`,
  },
  {
    version: 3,
    name: "run control: concurrency policy, reruns, cancel requests",
    sql: `
ALTER TABLE pipelines ADD COLUMN concurrency text NOT NULL DEFAULT 'queue'
  CHECK (concurrency IN ('queue', 'supersede', 'cancel_in_progress'));
-- The lane's number of queued runs (lib/store/pg/sql/queueSql.ts): a trigger's reply says the new run's
-- place in the queue without counting the runs ahead of it.
ALTER TABLE pipelines ADD COLUMN queued_count integer NOT NULL DEFAULT 0;
UPDATE pipelines p SET queued_count = q.n
FROM (SELECT pipeline_id, count(*) AS n FROM runs WHERE status = 'queued' GROUP BY pipeline_id) AS q WHERE q.pipeline_id = p.id;
ALTER TABLE runs ADD COLUMN rerun_of uuid;
-- A running run's cancel: when it was asked for, and the error the run is to end with (by its worker,
-- or by lease recovery if the worker is gone). The first request sets both; later ones change nothing.
ALTER TABLE runs ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE runs ADD COLUMN cancel_error text;
`,
  },
  {
    version: 4,
    name: "log lines as rows, idempotency keys",
    sql: String.raw`
-- A run's log lines, numbered within the run (seq) and within their stage (pos, counting every line
-- the stage was given, dropped ones too). runs.last_seq is the last seq given; runs.stage_lines the
-- lines each stage was given, from which the cap's dropped count follows (lib/store/pg/sql/logsSql.ts).
ALTER TABLE runs ADD COLUMN last_seq integer NOT NULL DEFAULT 0, ADD COLUMN stage_lines integer[] NOT NULL DEFAULT '{0,0,0}';
CREATE TABLE run_lines (
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq    integer NOT NULL,
  stage  smallint NOT NULL,
  pos    integer NOT NULL,
  at     timestamptz NOT NULL,
  text   text NOT NULL,
  PRIMARY KEY (run_id, seq)
);

-- The jsonb logs of existing runs move to run_lines, stage by stage. A capped stage (10,000 lines, the
-- marker at index 1,000) was given 9,999 + N lines: its later lines take the places they had then.
WITH stage AS (
  SELECT r.id, s.n - 1 AS stage, s.value -> 'logs' AS logs, jsonb_array_length(s.value -> 'logs') AS kept,
    coalesce(s.value ->> 'finished_at', s.value ->> 'started_at', r.updated_at::text)::timestamptz AS at,
    least(9999 + substring(s.value -> 'logs' ->> 1000 FROM '^\[\.\.\. ([0-9]+) lines dropped \.\.\.\]$')::numeric, 2000000000) AS capped
  FROM runs r, jsonb_array_elements(r.stages) WITH ORDINALITY AS s(value, n)
), line AS (
  SELECT st.id, st.stage, st.at, l.text, l.n - 1 AS i,
    CASE WHEN st.kept = 10000 AND st.capped IS NOT NULL AND l.n > 1001 THEN st.capped - 10000 + l.n ELSE l.n END AS pos
  FROM stage st, jsonb_array_elements_text(st.logs) WITH ORDINALITY AS l(text, n)
)
INSERT INTO run_lines (run_id, seq, stage, pos, at, text)
SELECT id, row_number() OVER (PARTITION BY id ORDER BY stage, i), stage, pos, at, text FROM line;
-- A stage's last line has the place of the last line it was given.
UPDATE runs r SET last_seq = coalesce((SELECT max(seq) FROM run_lines l WHERE l.run_id = r.id), 0),
  stage_lines = ARRAY(SELECT coalesce(max(l.pos), 0) FROM generate_series(0, 2) AS g(stage)
    LEFT JOIN run_lines l ON l.run_id = r.id AND l.stage = g.stage GROUP BY g.stage ORDER BY g.stage),
  stages = (SELECT coalesce(jsonb_agg(s.value || '{"logs": []}'::jsonb ORDER BY s.n), '[]'::jsonb) FROM jsonb_array_elements(r.stages) WITH ORDINALITY AS s(value, n));
DROP FUNCTION stagerunner_append_lines(jsonb, jsonb, int, int);

-- Who follows a run's changes (Store.onRunChange), by store instance: the statements that change a run
-- NOTIFY its channel only when it has followers, since a NOTIFY serialises commits on the notification
-- queue's lock and wakes every listening connection (the hot path's statements would pay for it).
CREATE TABLE run_followers (
  run_id   uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  follower uuid NOT NULL,
  PRIMARY KEY (run_id, follower)
);

-- Idempotency-Keys: what the first request with a key made, by scope ("create", or "trigger <pipeline>").
-- A row older than a day counts as absent (it is replaced) and is deleted by the periodic sweep.
CREATE TABLE idempotency_keys (
  scope       text NOT NULL,
  key         text NOT NULL,
  fingerprint text NOT NULL,
  resource_id uuid NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
`,
  },
  {
    version: 5,
    name: "trigger parameters and the repository on runs",
    sql: `
-- The trigger's parameters (names sorted, as TriggerInput gives them), passed to each stage.
ALTER TABLE runs ADD COLUMN env jsonb NOT NULL DEFAULT '{}';
-- The pipeline's repository at trigger time, as spec is its stages: what a claimed run checks out.
-- Existing runs take their pipeline's; only runs of pipelines deleted before this migration have none,
-- and those all ended with the delete (nor can they be rerun), so a claimed run always has one.
ALTER TABLE runs ADD COLUMN repository text;
UPDATE runs r SET repository = p.repository FROM pipelines p WHERE p.id = r.pipeline_id;
ALTER TABLE runs ADD CONSTRAINT runs_repository_until_finished
  CHECK (repository IS NOT NULL OR status IN ('success', 'failed', 'cancelled'));
`,
  },
];

/** The newest schema version this code knows. */
export const LATEST_VERSION = MIGRATIONS.at(-1)?.version ?? 0;
