/**
 * PostgreSQL for tests: the database named by STAGERUNNER_TEST_DATABASE_URL (when it is unset the
 * PostgreSQL tests are skipped and say why), with a schema of its own for every store under test,
 * dropped when the test is done, so that each test starts from an empty store.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, beforeEach } from "vitest";
import type { PgStore, PgStoreOptions } from "../../lib/store/pg/pgStore.ts";
import { connectPgStore } from "../../lib/store/pg/schema/migrate.ts";
import type { Store } from "../../lib/store/store.ts";
import { wrapStore } from "./storeWrappers.ts";

export const pgTestUrl: string | undefined = process.env.STAGERUNNER_TEST_DATABASE_URL || undefined;

export const PG_SKIP_REASON =
  "STAGERUNNER_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test), so the PostgreSQL tests are skipped";

/** The URL, for tests that only run when it is set. */
export function requirePgUrl(): string {
  if (!pgTestUrl) throw new Error(PG_SKIP_REASON);
  return pgTestUrl;
}

let made = 0;

/** A schema name no other test uses, in this vitest worker or another. */
export const freshSchema = (): string => `sr_test_${process.pid}_${++made}_${randomBytes(3).toString("hex")}`;

/** Runs `sql` on a connection of its own (the test's view of the database, outside any store). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = [], schema?: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: requirePgUrl(), ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

export const dropSchema = async (schema: string): Promise<void> => void (await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));

/** A migrated PgStore on a fresh schema that is dropped when the store closes (for the contract suite). */
export async function pgStoreOnFreshSchema(opts: PgStoreOptions): Promise<Store> {
  const schema = freshSchema();
  const store = await connectPgStore(requirePgUrl(), { ...opts, schema });
  return wrapStore(store, {
    close: async () => {
      await store.close();
      await dropSchema(schema);
    },
  });
}

export interface SchemaPerTest {
  /** This test's schema. */
  readonly schema: string;
  /** A migrated PgStore on this test's schema, closed after the test. */
  open(opts?: PgStoreOptions): Promise<PgStore>;
  /** Runs `sql` on this test's schema, outside any store. */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
}

/**
 * Gives every test of the calling suite a fresh schema, and after it closes the stores it opened
 * and drops the schema. Call inside a `describe`.
 */
export function schemaPerTest(): SchemaPerTest {
  let schema = "";
  const stores: PgStore[] = [];
  beforeEach(() => {
    schema = freshSchema();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await dropSchema(schema);
  });
  return {
    get schema() {
      return schema;
    },
    open: async (opts = {}) => {
      const store = await connectPgStore(requirePgUrl(), { ...opts, schema });
      stores.push(store);
      return store;
    },
    sql: (text, values = []) => adminQuery(text, values, schema),
  };
}
