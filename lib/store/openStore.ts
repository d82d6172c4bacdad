/**
 * The Store a configuration names: this process's memory, or PostgreSQL (migrated at start).
 */
import type { Clock } from "../clock.ts";
import { pgStoreOptions, redactUrl, storeSettings, type ConfigOf } from "../config/settings.ts";
import { ConfigError, ServiceUnavailableError } from "../api/errors.ts";
import { MemoryStore } from "./memory/memoryStore.ts";
import { connectPgStore } from "./pg/schema/migrate.ts";
import type { Store } from "./store.ts";

export type OpenStoreConfig = ConfigOf<typeof storeSettings>;

/** `log` gets what the store does on its own (PostgreSQL: the runs it fails by lease recovery). */
export async function openStore(config: OpenStoreConfig, clock?: Clock, log?: (line: string) => void): Promise<Store> {
  if (config.store.kind === "memory") return new MemoryStore({ ...(clock ? { clock } : {}), retainRuns: config.retainRuns });
  const { url } = config.store;
  return atStartUp(url, () => connectPgStore(url, { ...pgStoreOptions(config), ...(clock ? { clock } : {}), ...(log ? { log } : {}) }));
}

/**
 * Runs a start-up step against the database; an unreachable database becomes one line naming it
 * (password masked) and the cause, e.g. `cannot reach postgres://u:***@db/x: connect ECONNREFUSED ...`.
 */
export async function atStartUp<T>(url: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (!(error instanceof ServiceUnavailableError)) throw error;
    const cause = error.cause instanceof Error && error.cause.message ? error.cause.message : error.message;
    throw new ConfigError(`cannot reach ${redactUrl(url)}: ${cause}`);
  }
}
