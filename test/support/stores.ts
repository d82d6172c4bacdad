/** Every Store implementation the contract suites run over; PostgreSQL only with STAGERUNNER_TEST_DATABASE_URL. */
import type { Clock } from "../../lib/clock.ts";
import type { IdGenerator } from "../../lib/ids.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";
import type { Store } from "../../lib/store/store.ts";
import { pgStoreOnFreshSchema, pgTestUrl } from "./pgTestDatabase.ts";

export interface StoreFactory {
  name: string;
  create(deps: { clock: Clock; ids: IdGenerator }): Promise<Store>;
}

export const implementations: StoreFactory[] = [
  { name: "MemoryStore", create: async ({ clock, ids }) => new MemoryStore({ clock, ids }) },
  // test/lib/store/pg/pgStore.test.ts reports the skip when the URL is unset.
  ...(pgTestUrl ? [{ name: "PgStore", create: (deps: { clock: Clock; ids: IdGenerator }) => pgStoreOnFreshSchema(deps) }] : []),
];
