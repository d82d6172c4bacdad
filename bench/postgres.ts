/**
 * The PostgreSQL store as a queue, side by side with graphile-worker on the same database, with the
 * same worker processes and concurrency: throughput (N one-stage runs / no-op jobs added at once,
 * spread over 64 pipelines / named queues) and trigger-to-start latency at a steady, light rate.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { Logger, makeWorkerUtils } from "graphile-worker";
import pg from "pg";
import { migrate } from "../lib/pg/migrate.ts";
import { PgStore } from "../lib/pg/pgStore.ts";
import { percentiles, type Percentiles } from "./stats.ts";

export interface PgPoint {
  engine: "stagerunner" | "graphile-worker";
  processes: number;
  concurrency: number;
  queues: number;
  jobs: number;
  jobsPerSecond: number;
  /** Trigger (or addJob) to start, ms, at a steady light rate. */
  latency: Percentiles;
}

export interface PgOptions {
  adminUrl: string;
  processes: number[];
  concurrency: number;
  queues: number;
  jobs: number;
  latencyJobs: number;
  latencyRatePerSecond: number;
}

const epochNow = () => performance.timeOrigin + performance.now();

async function withDatabase<T>(adminUrl: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `sr_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

interface Worker {
  child: ChildProcess;
  ask<T>(message: string): Promise<T>;
}

async function startWorker(kind: "stagerunner" | "graphile", url: string, concurrency: number): Promise<Worker> {
  const child = fork(new URL("./pgWorkerProcess.ts", import.meta.url).pathname, [kind, url, String(concurrency)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await once(child, "message");
  return {
    child,
    async ask<T>(message: string) {
      child.send(message);
      return (await once(child, "message"))[0] as T;
    },
  };
}

/** Adds work through `add(i)` and waits until the workers have started all of it. */
async function drive(workers: Worker[], jobs: number, add: (i: number) => Promise<string>, ratePerSecond?: number) {
  const added = new Map<string, number>();
  const count = async () => (await Promise.all(workers.map((w) => w.ask<{ count: number }>("count")))).reduce((sum, c) => sum + c.count, 0);
  const before = await count();
  const t0 = performance.now();
  // At a fixed rate one lane adds in order; for throughput 8 lanes add concurrently (as many API clients would).
  const lanes = ratePerSecond ? 1 : 8;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; i < jobs; i += lanes) {
        if (ratePerSecond) {
          const due = t0 + (i * 1000) / ratePerSecond - performance.now();
          if (due > 1) await new Promise((resolve) => setTimeout(resolve, due));
        }
        const at = epochNow();
        added.set(await add(i), at);
      }
    }),
  );
  while ((await count()) < before + jobs) await new Promise((resolve) => setTimeout(resolve, 10));
  const seconds = (performance.now() - t0) / 1000;
  const startedAt = new Map<string, number>();
  for (const w of workers) for (const [id, at] of (await w.ask<{ started: [string, number][] }>("report")).started) startedAt.set(id, at);
  const waits = [...added].map(([id, at]) => startedAt.get(id)! - at);
  return { seconds, waits };
}

async function measureEngine(engine: PgPoint["engine"], processes: number, opts: PgOptions): Promise<PgPoint> {
  return withDatabase(opts.adminUrl, async (url) => {
    let add: (i: number) => Promise<string>;
    let close: () => Promise<void>;
    if (engine === "stagerunner") {
      await migrate(url);
      const store = await PgStore.connect(url, { poolSize: 8 });
      const pipelines: string[] = [];
      for (let q = 0; q < opts.queues; q++)
        pipelines.push((await store.createPipeline({ name: `q${q}`, repository: "r", stages: { run_stage: { command: "true" } } })).id);
      add = async (i) => (await store.triggerRun(pipelines[i % opts.queues]!, "main"))!.id;
      close = () => store.close();
    } else {
      // Our own pool, ended by us: the database is dropped right after.
      const pool = new pg.Pool({ connectionString: url, max: 8 });
      pool.on("error", () => {});
      pool.on("connect", (client) => client.on("error", () => {}));
      const utils = await makeWorkerUtils({ pgPool: pool, logger: new Logger(() => () => {}) });
      await utils.migrate();
      add = async (i) => {
        const id = randomUUID();
        await utils.addJob("noop", { id }, { queueName: `q${i % opts.queues}` });
        return id;
      };
      close = async () => {
        await utils.release();
        await pool.end();
      };
    }
    const workers = await Promise.all(Array.from({ length: processes }, () => startWorker(engine === "stagerunner" ? "stagerunner" : "graphile", url, opts.concurrency)));
    try {
      const throughput = await drive(workers, opts.jobs, add);
      const steady = await drive(workers, opts.latencyJobs, (i) => add(opts.jobs + i), opts.latencyRatePerSecond);
      return {
        engine,
        processes,
        concurrency: opts.concurrency,
        queues: opts.queues,
        jobs: opts.jobs,
        jobsPerSecond: opts.jobs / throughput.seconds,
        latency: percentiles(steady.waits),
      };
    } finally {
      await Promise.all(workers.map(async (w) => (w.child.send("stop"), once(w.child, "exit"))));
      await close();
    }
  });
}

export async function measurePostgres(opts: PgOptions, progress: (line: string) => void): Promise<PgPoint[]> {
  const points: PgPoint[] = [];
  for (const processes of opts.processes)
    for (const engine of ["stagerunner", "graphile-worker"] as const) {
      progress(`postgres: ${engine}, ${processes} process(es) x ${opts.concurrency}`);
      points.push(await measureEngine(engine, processes, opts));
    }
  return points;
}
