/**
 * Applies the migrations of lib/store/pg/schema/migrations.ts: in order, in one transaction, under a transaction-level
 * advisory lock so that processes starting together apply each one once. For `stagerunner migrate`
 * and for the processes that open a PgStore at start (connectPgStore); deployed handlers construct
 * theirs over a migrated schema, so this module and the migrations stay out of their bundles.
 */
import pg from "pg";
import { ConfigError } from "../../../api/errors.ts";
import { checkConnection, poolConfig, quoteIdent, type ConnectionOptions } from "../connection.ts";
import { transaction } from "../database.ts";
import { LATEST_VERSION, MIGRATIONS, type Migration } from "./migrations.ts";
import { PgStore, type PgStoreOptions } from "../pgStore.ts";

/** Arbitrary, fixed: the first key of the two-key advisory lock; the second is the schema's hash. */
const LOCK_KEY = 0x5374_6752; // "StgR"

export interface MigrateResult {
  /** Versions applied by this call, oldest first; empty when the schema was already current. */
  applied: number[];
  /** The schema's version afterwards. */
  version: number;
}

/**
 * Brings the schema up to date. `target` is a pool (whose connections already carry the schema in
 * their search_path) or a connection string. Refuses with a one-line ConfigError when the database
 * holds a version newer than this code knows; connection failures are ServiceUnavailableError.
 */
export async function migrate(target: pg.Pool | string, opts: ConnectionOptions = {}, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  if (typeof target === "string") {
    checkConnection(target, opts);
    const pool = new pg.Pool(poolConfig(target, opts, 1));
    pool.on("error", () => {}); // an idle client's error: the query that needs it reports it
    try {
      return await migrate(pool, opts, migrations);
    } finally {
      await pool.end();
    }
  }
  return transaction(target, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_KEY, opts.schema ?? "public"]);
    if (opts.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS stagerunner_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number | null }>("SELECT max(version) AS version FROM stagerunner_migrations");
    const current = rows[0]?.version ?? 0;
    const latest = migrations.at(-1)?.version ?? LATEST_VERSION;
    if (current > latest)
      throw new ConfigError(`the database schema is at version ${current}, newer than this stagerunner knows (${latest}): upgrade stagerunner`);
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO stagerunner_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
      applied.push(migration.version);
    }
    return { applied, version: Math.max(current, latest) };
  });
}

/**
 * A PgStore over a schema brought up to date first. Fails with ConfigError for a bad URL or a schema
 * newer than this code, ServiceUnavailableError when the database cannot be reached.
 */
export async function connectPgStore(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
  // Constructed first: bad options are refused before anything connects.
  const store = new PgStore(url, opts);
  try {
    await migrate(url, opts);
  } catch (thrown) {
    await store.close();
    throw thrown;
  }
  return store;
}
