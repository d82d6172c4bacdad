/**
 * What a PgStore can be given besides its connection string; defaults as each option says.
 */
import type pg from "pg";
import type { Run } from "../../api/schemas.ts";
import { iso, type Clock } from "../../clock.ts";
import type { IdGenerator } from "../../ids.ts";
import { renewLeases, watchState } from "./claimChecks.ts";
import { channelName, clientConfig, positive, type ConnectionOptions } from "./connection.ts";
import { query } from "./database.ts";
import { keySweep } from "./idempotency.ts";
import { FOLLOW_RUN, UNFOLLOW_RUN } from "./sql/logsSql.ts";
import { sweeping } from "./recovery.ts";
import { pruning } from "./retention.ts";
import type { SignalsOptions } from "./signals/signals.ts";

export interface PgStoreOptions extends ConnectionOptions {
  clock?: Clock;
  ids?: IdGenerator;
  /** How long a claim holds without renewal; watched claims are renewed every third of it. Default 30 s. */
  leaseMs?: number;
  /**
   * How often a store with onClaimable listeners recovers expired leases. Default leaseMs / 2, at most
   * 5 s, so that a killed worker's run is recovered within the lease plus 5 s.
   */
  sweepIntervalMs?: number;
  /** How often listeners are called anyway, in case a notification was missed. Default 2 s. */
  pollIntervalMs?: number;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Finished runs to keep, the newest; undefined keeps every run. See lib/store/pg/retention.ts. */
  retainRuns?: number | undefined;
  /** How often a store with onClaimable listeners deletes the finished runs beyond retainRuns. Default 60 s. */
  pruneIntervalMs?: number;
  /** Where the store reports what it does on its own: the runs it fails by lease recovery, and deletes. */
  log?: (line: string) => void;
}

/** What the store's Signals need of it (lib/store/pg/signals/signals.ts). */
export interface SignalsDeps {
  pool: pg.Pool;
  clock: Clock;
  leaseMs: number;
  retainRuns: number | undefined;
  /** One pass of lease recovery: the runs it ended. */
  recover: () => Promise<Run[]>;
}

/** How often a store with workers deletes expired Idempotency-Keys. */
const KEY_SWEEP_MS = 60_000;

/** The store's channels, cadences and periodic work, from its options and their defaults. */
export function signalsOptions(url: string, opts: PgStoreOptions, deps: SignalsDeps): SignalsOptions {
  const { pool, clock, leaseMs, retainRuns } = deps;
  return {
    listen: clientConfig(url, opts, "stagerunner-listen"),
    claimableChannel: channelName("stagerunner_claimable", opts.schema),
    cancelChannel: channelName("stagerunner_cancel", opts.schema),
    runChannel: channelName("stagerunner_run", opts.schema),
    leaseMs,
    pollIntervalMs: positive("pollIntervalMs", opts.pollIntervalMs ?? 2000),
    renew: (held) => renewLeases(pool, held, iso(clock.now() + leaseMs)),
    follow: (runId, instance) => query(pool, FOLLOW_RUN, [runId, instance]),
    unfollow: (runId, instance) => query(pool, UNFOLLOW_RUN, [runId, instance]),
    check: (claim) => watchState(pool, claim),
    periodic: [
      sweeping(leaseMs, opts, deps.recover),
      keySweep(pool, () => clock.now(), KEY_SWEEP_MS),
      ...(retainRuns === undefined ? [] : [pruning(pool, retainRuns, opts)]),
    ],
  };
}
