/**
 * Claims: taking one (Store.claimRun), whether one is still current, lease renewals, and whether a
 * claimed run has a given stage. A claim is current while its run is running under its fencing token.
 */
import type pg from "pg";
import { StaleClaimError } from "../../api/errors.ts";
import { sortedEnv } from "../../api/order.ts";
import { iso, type Clock } from "../../clock.ts";
import { randomId } from "../../ids.ts";
import { stageSpecs } from "../stages.ts";
import type { Claim } from "../store.ts";
import { query } from "./database.ts";
import { WATCH_STATE } from "./sql/controlSql.ts";
import { CLAIM_STATE, HOT, RENEW_LEASES } from "./sql/queueSql.ts";
import { isRowId, type ClaimedRow } from "./rows.ts";
import type { Signals } from "./signals/signals.ts";

/** Claim attempts per claimRun when a lane changed under the statement or a unique violation hit. */
const CLAIM_ATTEMPTS = 5;

/**
 * Store.claimRun: the oldest claimable run, marked running under a new claim for `workerId`, made known
 * to `signals` (with the LISTEN connection that listened before its statement was sent) so that its
 * watch hears what happens to it from then on.
 */
export async function claimNext(pool: pg.Pool, signals: Signals, workerId: string, clock: Clock, leaseMs: number): Promise<Claim | undefined> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const now = clock.now();
    const token = randomId();
    const listening = signals.listening;
    let row: (ClaimedRow & { locked: number }) | undefined;
    try {
      [row] = await query<ClaimedRow & { locked: number }>(pool, HOT.CLAIM_RUN, [iso(now), workerId, token, iso(now + leaseMs)]);
    } catch (thrown) {
      // The unique index refused a second running run: the lanes disagree with the runs. Not the
      // caller's problem; nothing was claimed this time.
      if ((thrown as { code?: string }).code === "23505") continue;
      throw thrown;
    }
    if (!row || row.locked === 0) return undefined;
    // A lane was locked but it changed after this statement's snapshot: try again with a fresh one.
    if (row.id === null) continue;
    const run = { id: row.id, pipeline_id: row.pipeline_id, git_ref: row.git_ref, env: sortedEnv(row.env) };
    const claim = { run, spec: row.spec, pipeline: { name: row.pipeline_name, repository: row.repository }, workerId, token };
    signals.claimed(claim, listening, row.cancel_error);
    return claim;
  }
  return undefined;
}

export interface ClaimIds {
  id: string;
  pipelineId: string;
  token: string | null;
}

/**
 * The run, pipeline and token a claim's statements bind; the token is NULL (matching no row) when it
 * cannot be one, and undefined means no row can match.
 */
export function claimIds(claim: Claim): ClaimIds | undefined {
  const { id, pipeline_id: pipelineId } = claim.run;
  return isRowId(id) && isRowId(pipelineId) ? { id, pipelineId, token: isRowId(claim.token) ? claim.token : null } : undefined;
}

/** Why a claim is not current, in StaleClaimError's words ("run is cancelled"); undefined when it is. */
export async function staleReason(pool: pg.Pool, claim: Claim): Promise<string | undefined> {
  const ids = claimIds(claim);
  const [row] = ids ? await query<{ status: string; claim_token: string | null }>(pool, CLAIM_STATE, [ids.id]) : [];
  if (!row) return "no such run";
  if (row.claim_token !== claim.token || row.status !== "running") return `run is ${row.status}`;
  return undefined;
}

/** Throws StaleClaimError saying why the claim is not current; returns when it is. */
export async function assertCurrent(pool: pg.Pool, claim: Claim): Promise<void> {
  const reason = await staleReason(pool, claim);
  if (reason !== undefined) throw new StaleClaimError(claim.run.id, reason);
}

/** After a finish or release matched no row: StaleClaimError, or (a bug) a lane that lost track of its run. */
export async function assertLaneAgrees(pool: pg.Pool, claim: Claim): Promise<never> {
  await assertCurrent(pool, claim);
  throw new Error(`run ${claim.run.id} is running under this claim but its pipeline's lane does not name it`);
}

/** Whether the claimed run has a stage `index` (a run's number of stages never changes after its trigger). */
export const hasStage = (claim: Claim, index: number): boolean => Number.isInteger(index) && index >= 0 && index < stageSpecs(claim.spec).length;

/**
 * Moves the leases of the `held` claims that are still current to `expiresAt`; returns their tokens,
 * each with the error of a cancel asked for its run (null for none).
 */
export async function renewLeases(pool: pg.Pool, held: { runId: string; token: string }[], expiresAt: string): Promise<Map<string, string | null>> {
  const valid = held.filter((h) => isRowId(h.runId) && isRowId(h.token));
  if (valid.length === 0) return new Map();
  const rows = await query<{ token: string; cancel_error: string | null }>(pool, RENEW_LEASES, [valid.map((h) => h.runId), valid.map((h) => h.token), expiresAt]);
  return new Map(rows.map((r) => [r.token, r.cancel_error]));
}

/** What a new watch of `claim` must hear at once: that it is no longer current, or its run's cancel error. */
export async function watchState(pool: pg.Pool, claim: Claim): Promise<{ lost: boolean; cancelError: string | null }> {
  const ids = claimIds(claim);
  const [row] = ids ? await query<{ status: string; claim_token: string | null; cancel_error: string | null }>(pool, WATCH_STATE, [ids.id]) : [];
  const lost = !row || row.status !== "running" || row.claim_token !== claim.token;
  return { lost, cancelError: lost ? null : row.cancel_error };
}
