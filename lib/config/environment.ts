/**
 * A deployed function's configuration, read once per instance from its environment. State lives in
 * PostgreSQL (DATABASE_URL or STAGERUNNER_STORE): each function instance has memory of its own, so a
 * function opens no in-memory store, and its bundle does not carry one.
 */
import { loadConfig, pgStoreOptions, storeSettings } from "./settings.ts";
import { ConfigError } from "../api/errors.ts";
import type { Store } from "../store/store.ts";

let store: Promise<Store> | undefined;

/**
 * The store of this function instance. PostgreSQL is not migrated here (a cold start should not take
 * the schema lock): run `stagerunner migrate` when deploying. The PostgreSQL driver is imported on
 * first use: loading it at start-up was about 37 ms of a bundle's cold start (measured with a stub).
 */
export function storeFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  return (store ??= open(env).catch((error: unknown) => {
    store = undefined; // a misconfiguration is reported on every call until it is fixed
    throw error;
  }));
}

async function open(env: NodeJS.ProcessEnv): Promise<Store> {
  const config = loadConfig(storeSettings, {}, env);
  if (config.store.kind !== "postgres") {
    const why = env.STAGERUNNER_STORE ? "STAGERUNNER_STORE=memory" : "DATABASE_URL is not set";
    throw new ConfigError(`${why}: a deployed function keeps its state in PostgreSQL; set DATABASE_URL (or STAGERUNNER_STORE) to a postgres:// URL`);
  }
  const { PgStore } = await import("../store/pg/pgStore.ts");
  return new PgStore(config.store.url, pgStoreOptions(config));
}
