/**
 * A worker process for the PostgreSQL bench (forked by postgres.ts): `stagerunner` runs a WorkerPool
 * over a PgStore with 0-ms stages; `graphile` runs graphile-worker on no-op jobs. Each records when
 * every run or job started (epoch ms with microseconds: performance.timeOrigin + now(), comparable
 * across processes on one machine) and answers "count", "report" and "stop" over IPC.
 */
import { performance } from "node:perf_hooks";
import { Logger, run as runGraphile } from "graphile-worker";
import { systemClock } from "../lib/clock.ts";
import { connectPgStore } from "../lib/store/pg/schema/migrate.ts";
import { simulateRunner } from "../lib/worker/stageRunner.ts";
import { WorkerPool } from "../lib/worker/pool.ts";
import { wrapStore } from "../test/support/storeWrappers.ts";

const [kind, url, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const started = new Map<string, number>();
const epochNow = () => performance.timeOrigin + performance.now();

let stop: () => Promise<void>;
if (kind === "stagerunner") {
  // `concurrency` connections for queries, as graphile-worker gets below, and the store's own LISTEN
  // connection beside them: both engines' processes are up at once, within the server's 100 connections.
  const inner = await connectPgStore(url!, { poolSize: concurrency });
  // Records the moment a claim returns: that is when the run starts.
  const store = wrapStore(inner, {
    claimRun: async (workerId) => {
      const claim = await inner.claimRun(workerId);
      if (claim) started.set(claim.run.id, epochNow());
      return claim;
    },
  });
  const pool = new WorkerPool({ store, runner: simulateRunner({ clock: systemClock, durationMs: 0, failureProbability: 0 }), size: concurrency, name: `bench-${process.pid}` });
  pool.start();
  stop = async () => {
    await pool.stop(0);
    await inner.close();
  };
} else if (kind === "graphile") {
  const runner = await runGraphile({
    connectionString: url!,
    concurrency,
    // Its LISTEN connection comes from this pool: `concurrency` left for queries, as the store has.
    maxPoolSize: concurrency + 1,
    noHandleSignals: true,
    pollInterval: 2000,
    logger: new Logger(() => () => {}),
    taskList: {
      noop: async (payload) => void started.set(String((payload as { id: string }).id), epochNow()),
    },
  });
  stop = () => runner.stop();
} else {
  throw new Error(`unknown kind ${kind}`);
}

process.on("message", async (message) => {
  if (message === "count") process.send?.({ count: started.size });
  else if (message === "report") process.send?.({ started: [...started] });
  else if (message === "stop") {
    await stop();
    process.send?.({ stopped: true });
    process.exit(0);
  }
});
// A bench that dies (killed, timed out) must not leave its workers holding connections.
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
