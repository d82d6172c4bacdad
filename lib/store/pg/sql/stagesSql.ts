/**
 * The stage semantics as SQL over a run's `stages` jsonb array, for the statements that change stages
 * they have not read (a run ended by its pipeline's deletion or by lease recovery, a stage patched
 * without a read-modify-write round trip). Each must stay in step with its TypeScript twin in
 * lib/store/stages.ts or the in-memory store; the Store contract suite runs over both stores and
 * checks that they agree. Log lines are rows of their own (lib/store/pg/sql/logsSql.ts).
 *
 * Arguments are SQL expressions; timestamps are text parameters (the wire's ISO strings), so that the
 * JSON holds exactly what MemoryStore would hold.
 */

/** pendingStages: a pending stage for each kind present in `spec`, in the order of `kinds` (text[]). */
export const pendingStagesSql = (spec: string, kinds: string): string => `(
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'name', k.kind, 'status', 'pending', 'started_at', NULL, 'finished_at', NULL, 'attempts', 0, 'logs', '[]'::jsonb) ORDER BY k.n), '[]'::jsonb)
  FROM unnest(${kinds}) WITH ORDINALITY AS k(kind, n)
  WHERE ${spec} ? (k.kind || '_stage'))`;

/** RunTable.end's stages: pending stages end skipped, a running one failed or cancelled (with `at`), others unchanged. */
export const closeStagesSql = (stages: string, runStatus: string, at: string): string => `(
  SELECT coalesce(jsonb_agg(CASE e.s ->> 'status'
           WHEN 'pending' THEN e.s || '{"status": "skipped"}'::jsonb
           WHEN 'running' THEN e.s || jsonb_build_object(
             'status', CASE WHEN ${runStatus} = 'failed' THEN 'failed' ELSE 'cancelled' END, 'finished_at', ${at})
           ELSE e.s END ORDER BY e.n), '[]'::jsonb)
  FROM jsonb_array_elements(${stages}) WITH ORDINALITY AS e(s, n))`;

/** A stage's attempts; stages written before schema version 3 have none, and a started one ran once. */
export const attemptsSql = (stage: string): string =>
  `coalesce((${stage} ->> 'attempts')::int, CASE WHEN ${stage} ->> 'started_at' IS NULL THEN 0 ELSE 1 END)`;

/**
 * withStatus's change to one stage: a new `status` (text, or NULL for none) stamps started_at and counts
 * an attempt when it is running, finished_at when it is an end state, and nothing when the stage already
 * had that status.
 */
export const patchStageSql = (stage: string, status: string, at: string): string => `
  ${stage} || CASE
       WHEN ${status} IS NULL OR ${stage} ->> 'status' = ${status} THEN '{}'::jsonb
       WHEN ${status} = 'running' THEN jsonb_build_object('status', ${status}, 'started_at', ${at}, 'attempts', ${attemptsSql(stage)} + 1)
       WHEN ${status} = 'pending' THEN jsonb_build_object('status', ${status})
       ELSE jsonb_build_object('status', ${status}, 'finished_at', ${at})
     END`;

/** The JSON text of a timestamptz as JavaScript's toISOString writes it (milliseconds, UTC, "Z"). */
export const isoTextSql = (timestamp: string): string => `to_char((${timestamp}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * `stages` with stage `index` patched (patchStageSql) and, when `startNext` (boolean) holds, the stage
 * after it running from `at`: MemoryStore's patchRunStage. The caller checks that both stages exist
 * (jsonb_set would append past the end).
 */
export const patchRunStageSql = (stages: string, index: string, status: string, at: string, startNext: string): string => {
  const patched = `jsonb_set(${stages}, ARRAY[(${index})::text], ${patchStageSql(`(${stages} -> (${index}))`, status, at)})`;
  // One copy of `patched`, not one per branch of a CASE: PostgreSQL compiles every branch on each
  // execution. jsonb_set_lax returns its target unchanged when the value is NULL (no next stage to start).
  const next = patchStageSql(`(${stages} -> (${index} + 1))`, "'running'", at);
  return `jsonb_set_lax(${patched}, ARRAY[(${index} + 1)::text], CASE WHEN ${startNext} THEN ${next} END, false, 'return_target')`;
};
