/**
 * What a PgStore can be given besides its connection string; defaults as each option says.
 */
import type { Clock } from "../../clock.ts";
import type { IdGenerator } from "../../ids.ts";
import type { ConnectionOptions } from "./connection.ts";

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
