/** A worker process for the run-control bench on PostgreSQL: a WorkerPool with the tick runner, until told "stop". */
import { connectPgStore } from "../lib/store/pg/schema/migrate.ts";
import { WorkerPool } from "../lib/worker/pool.ts";
import { tickRunner } from "./tickRunner.ts";

const store = await connectPgStore(process.argv[2]!);
const pool = new WorkerPool({ store, runner: tickRunner, size: 2, name: `bench-${process.pid}` });
pool.start();
process.send?.("ready");
// A bench that dies (killed, timed out) must not leave its worker holding connections.
process.on("disconnect", () => process.exit(0));
process.on("message", async (message) => {
  if (message !== "stop") return;
  await pool.stop(0);
  await store.close();
  process.exit(0);
});
