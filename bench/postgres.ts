/**
 * The PostgreSQL store as a queue, side by side with graphile-worker on the same server, with the same
 * worker processes and concurrency: throughput (N one-stage runs / no-op jobs added at once, spread over
 * 64 pipelines / named queues) and trigger-to-start latency at a steady, light rate.
 *
 * Both are set up at once (a database and worker processes each) and their throughput is measured in
 * alternating rounds, each round's ratio from the pair measured back to back, as the HTTP part does:
 * measured one after the other, the machine's drift over a minute would count as a difference between
 * them (one process: 0.95 to 1.89 over three runs of the same code).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { Logger, makeWorkerUtils } from "graphile-worker";
import pg from "pg";
import { connectPgStore, migrate } from "../lib/store/pg/schema/migrate.ts";
import { percentiles, type Percentiles } from "./stats.ts";

export interface PgPoint {
  engine: "stagerunner" | "graphile-worker";
  processes: number;
  concurrency: number;
  queues: number;
  jobs: number;
  jobsPerSecond: number;
  /** Jobs/s of each round, in order; round i of one engine ran next to round i of the other. */
  rounds: number[];
  /** Trigger (or addJob) to start, ms, at a steady light rate. */
  latency: Percentiles;
}

export interface PgOptions {
  adminUrl: string;
  processes: number[];
  concurrency: number;
  queues: number;
  /** Throughput jobs per engine, split into `rounds` alternating rounds. */
  jobs: number;
  rounds: number;
  latencyJobs: number;
  latencyRatePerSecond: number;
}

/** Connections each engine adds its jobs through. */
const ADD_POOL = 4;

/** Jobs each engine runs, untimed, before the rounds: its worker processes' code gets compiled. */
const WARM_UP_JOBS = 128;

const epochNow = () => performance.timeOrigin + performance.now();

export async function withDatabase<T>(adminUrl: string, fn: (url: string) => Promise<T>): Promise<T> {
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

/** One engine, set up on the database at `url`: its worker processes and how to add a job. */
interface Side {
  engine: PgPoint["engine"];
  workers: Worker[];
  /** Adds job `i` (spread over the queues by i): its id. */
  add(i: number): Promise<string>;
  /** Jobs added so far. */
  added: number;
  close(): Promise<void>;
}

async function setUp(engine: PgPoint["engine"], processes: number, opts: PgOptions, url: string): Promise<Side> {
  let add: (i: number) => Promise<string>;
  let close: () => Promise<void>;
  if (engine === "stagerunner") {
    await migrate(url);
    // The adding side's pools are small: with four worker processes of each engine up at once, the two
    // engines hold 4 x 2 x (10 + 1) connections of the server's 100.
    const store = await connectPgStore(url, { poolSize: ADD_POOL });
    const pipelines: string[] = [];
    for (let q = 0; q < opts.queues; q++)
      pipelines.push((await store.createPipeline({ name: `q${q}`, repository: "r", stages: { run_stage: { command: "true" } } })).id);
    add = async (i) => (await store.triggerRun(pipelines[i % opts.queues]!, "main"))!.id;
    close = () => store.close();
  } else {
    // Our own pool, ended by us: the database is dropped right after.
    const pool = new pg.Pool({ connectionString: url, max: ADD_POOL });
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
  return {
    engine,
    workers,
    add,
    added: 0,
    close: async () => {
      await Promise.all(workers.map(async (w) => (w.child.send("stop"), once(w.child, "exit"))));
      await close();
    },
  };
}

/** `jobs` more jobs on `side`, at `ratePerSecond` or all at once, until its workers started them all. */
function more(side: Side, jobs: number, ratePerSecond?: number) {
  const first = side.added;
  side.added += jobs;
  return drive(side.workers, jobs, (i) => side.add(first + i), ratePerSecond);
}

/** Both engines with `processes` worker processes each: throughput in alternating rounds, then latency. */
async function measurePair(processes: number, opts: PgOptions, progress: (line: string) => void): Promise<PgPoint[]> {
  return withDatabase(opts.adminUrl, (ourUrl) =>
    withDatabase(opts.adminUrl, async (theirUrl) => {
      const sides: Side[] = [];
      try {
        sides.push(await setUp("stagerunner", processes, opts, ourUrl));
        sides.push(await setUp("graphile-worker", processes, opts, theirUrl));
        for (const side of sides) await more(side, Math.min(WARM_UP_JOBS, opts.jobs));
        const perRound = Math.ceil(opts.jobs / opts.rounds);
        const rounds = sides.map(() => ({ jobsPerSecond: [] as number[], seconds: 0 }));
        for (let round = 0; round < opts.rounds; round++)
          for (const s of round % 2 === 0 ? [0, 1] : [1, 0]) {
            progress(`postgres: ${sides[s]!.engine}, ${processes} process(es) x ${opts.concurrency} (round ${round + 1}/${opts.rounds})`);
            const { seconds } = await more(sides[s]!, perRound);
            rounds[s]!.jobsPerSecond.push(perRound / seconds);
            rounds[s]!.seconds += seconds;
          }
        const points: PgPoint[] = [];
        for (const [s, side] of sides.entries()) {
          progress(`postgres: ${side.engine}, ${processes} process(es), steady ${opts.latencyRatePerSecond}/s`);
          const steady = await more(side, opts.latencyJobs, opts.latencyRatePerSecond);
          points.push({
            engine: side.engine,
            processes,
            concurrency: opts.concurrency,
            queues: opts.queues,
            jobs: perRound * opts.rounds,
            jobsPerSecond: (perRound * opts.rounds) / rounds[s]!.seconds,
            rounds: rounds[s]!.jobsPerSecond,
            latency: percentiles(steady.waits),
          });
        }
        return points;
      } finally {
        for (const side of sides) await side.close();
      }
    }),
  );
}

export async function measurePostgres(opts: PgOptions, progress: (line: string) => void): Promise<PgPoint[]> {
  const points: PgPoint[] = [];
  for (const processes of opts.processes) points.push(...(await measurePair(processes, opts, progress)));
  return points;
}
