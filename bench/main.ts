/**
 * `npm run bench [-- --quick | --tiny] [queue] [latency] [http] [handlers] [postgres] [kept] [--out file]`
 * (postgres: STAGERUNNER_BENCH_DATABASE_URL, else STAGERUNNER_TEST_DATABASE_URL, else the local server)
 *
 * Runs the parts asked for (all by default), shows progress on stderr, writes every figure to a
 * results file, prints tables and the target checks, and (for a full run) draws the charts. Exits 1 if
 * two runs of one pipeline were ever seen running at once.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { drawCharts } from "./charts.ts";
import { measureBaseline } from "./baseline.ts";
import { measureEngineRate, measurePoint } from "./engine.ts";
import { measureHandlers } from "./handlers.ts";
import { measureHttp, type HttpOptions } from "./http.ts";
import { measureKeptRuns } from "./keptRuns.ts";
import { measureLoad } from "./openLoop.ts";
import { measurePostgres } from "./postgres.ts";
import { redactUrl } from "../lib/config/settings.ts";
import { printResults } from "./report.ts";
import { checkTargets, machine, type Results } from "./results.ts";
import { versusBaseline } from "./versusBaseline.ts";

const pgAdminUrl = process.env.STAGERUNNER_BENCH_DATABASE_URL || process.env.STAGERUNNER_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const PG = { concurrency: 10, queues: 64, latencyRatePerSecond: 50 };
const PROFILES = {
  full: { workers: [1, 2, 4, 8, 16, 32, 64], pipelines: [1, 64], stageMs: [0, 5], runsAtZero: 20_000, baselineRounds: 5, rounds: 40, loadSeconds: 3, http: { connections: 50, seconds: 10, rounds: 5, warmupSeconds: 2 }, keptRuns: 500_000, pg: { ...PG, processes: [1, 2, 4], jobs: 4000, rounds: 4, latencyJobs: 200 } },
  quick: { workers: [1, 2, 4, 8, 16, 32, 64], pipelines: [1, 64], stageMs: [0, 5], runsAtZero: 2_000, baselineRounds: 3, rounds: 6, loadSeconds: 0.5, http: { connections: 50, seconds: 0, requests: 500, rounds: 2, warmupSeconds: 0 }, keptRuns: 50_000, pg: { ...PG, processes: [1], jobs: 500, rounds: 2, latencyJobs: 25 } },
  tiny: { workers: [1, 4], pipelines: [1, 4], stageMs: [0, 1], runsAtZero: 200, baselineRounds: 1, rounds: 3, loadSeconds: 0.1, http: { connections: 4, seconds: 0, requests: 50, rounds: 1, warmupSeconds: 0 }, keptRuns: 2_000, pg: { ...PG, processes: [1], jobs: 100, rounds: 2, latencyJobs: 10 } },
};
const PARTS = ["queue", "latency", "http", "handlers", "postgres", "kept"] as const;
type Part = (typeof PARTS)[number];

const { values, positionals } = parseArgs({
  options: { quick: { type: "boolean" }, tiny: { type: "boolean" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
if (values.help) {
  console.log("usage: npm run bench [-- --quick | --tiny] [queue] [latency] [http] [handlers] [postgres] [kept] [--out file]");
  process.exit(0);
}
const unknown = positionals.filter((p) => !PARTS.includes(p as Part));
if (unknown.length) {
  console.error(`bench: unknown part ${unknown.join(", ")}; parts are ${PARTS.join(", ")}`);
  process.exit(2);
}
const parts = new Set<Part>(positionals.length ? (positionals as Part[]) : PARTS);
const profileName = values.tiny ? "tiny" : values.quick ? "quick" : "full";
const profile = PROFILES[profileName];
const out = values.out ?? new URL(`./results/${profileName === "full" ? "latest" : profileName}.json`, import.meta.url).pathname;
const progress = (line: string) => process.stderr.write(`\r\x1b[K${line}`);

const results: Results = { ...machine(), profile: profileName, parameters: { ...profile, parts: [...parts] } };

const baseline = [];
if (parts.has("queue")) {
  // The engine against the baseline first, before the sweep's recording store has run in this process.
  // The emulator runs one kind of store; once the pool's calls had gone to the recording decorator as
  // well, their sites were polymorphic, and the engine, measured after, ran 15-20% slower (W = 8, P = 64:
  // 570-610 thousand runs/s against 650-710 thousand in a process that never recorded).
  await measureEngineRate(4, 4, profile.runsAtZero);
  await measureBaseline(4, 4, profile.runsAtZero);
  for (const pipelines of profile.pipelines)
    for (const workers of profile.workers) {
      progress(`queue: engine against baseline, W=${workers} P=${pipelines}`);
      baseline.push(await versusBaseline(workers, pipelines, profile.runsAtZero, profile.baselineRounds));
    }
}
// The latency part needs the capacity of its configuration, measured by the sweep or alone.
const LOAD = { workers: 8, pipelines: 64, stageMs: 5 };
if (parts.has("queue") || parts.has("latency")) {
  // Warm-up of the JIT and allocation paths, with stages that finish at once and with stages that sleep.
  await measurePoint(4, 4, 0, profile.runsAtZero);
  await measurePoint(8, 8, 1, 8 * profile.rounds);
}
if (parts.has("queue")) {
  const sweep = [];
  for (const stageMs of profile.stageMs)
    for (const pipelines of profile.pipelines)
      for (const workers of profile.workers) {
        progress(`queue: W=${workers} P=${pipelines} D=${stageMs} ms`);
        const runs = stageMs === 0 ? profile.runsAtZero : Math.min(workers, pipelines) * profile.rounds;
        sweep.push(await measurePoint(workers, pipelines, stageMs, runs));
      }
  results.queue = { sweep, baseline };
}
if (parts.has("latency")) {
  const { workers, pipelines } = LOAD;
  const stageMs = profileName === "tiny" ? 1 : LOAD.stageMs;
  const known = results.queue?.sweep.find((p) => p.workers === workers && p.pipelines === pipelines && p.stageMs === stageMs);
  progress("latency: measuring capacity");
  const capacity = known?.runsPerSecond ?? (await measurePoint(workers, pipelines, stageMs, Math.min(workers, pipelines) * profile.rounds)).runsPerSecond;
  const points = [];
  for (const load of [0.25, 0.5, 0.9]) {
    progress(`latency: ${Math.round(load * 100)}% of ${Math.round(capacity)} runs/s`);
    points.push(await measureLoad(workers, pipelines, stageMs, load, capacity, profile.loadSeconds));
  }
  results.latency = { workers, pipelines, stageMs, capacity, points };
}
if (parts.has("http")) {
  const { connections, seconds, requests }: HttpOptions = profile.http;
  results.http = { connections, seconds, ...(requests ? { requests } : {}), points: await measureHttp(profile.http, progress) };
}
if (parts.has("postgres")) {
  try {
    results.postgres = { adminUrl: redactUrl(pgAdminUrl), points: await measurePostgres({ adminUrl: pgAdminUrl, ...profile.pg }, progress) };
  } catch (error) {
    // No database here: say so and go on with the rest (`npm run bench -- postgres` names it explicitly).
    if (positionals.includes("postgres") || !(error instanceof Error && /ECONNREFUSED|does not exist|password/.test(error.message))) throw error;
    console.error(`\npostgres: skipped, ${redactUrl(pgAdminUrl)} is not reachable (${error.message}); set STAGERUNNER_BENCH_DATABASE_URL`);
  }
}
if (parts.has("kept")) {
  progress(`kept: ${profile.keptRuns} runs in one store`);
  results.kept = await measureKeptRuns(profile.keptRuns);
}
if (parts.has("handlers")) {
  progress("handlers: mitata");
  results.handlers = await measureHandlers(profileName !== "full");
}
progress("");
results.targets = checkTargets(results);

await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
printResults(results);
console.log(`\nresults: ${out}`);
if (profileName === "full" && !values.out) {
  const charts = await drawCharts(results, dirname(out));
  console.log(`charts: ${charts.join(", ")}`);
}

const measured = [...(results.queue?.sweep ?? []), ...(results.latency?.points ?? [])];
const overlaps = measured.filter((p) => p.maxConcurrentPerPipeline > 1).length;
const disordered = measured.filter((p) => p.outOfOrder > 0).length;
if (overlaps) console.error(`FAILED: two runs of one pipeline ran at once in ${overlaps} measurement(s)`);
if (disordered) console.error(`FAILED: a pipeline's runs started out of trigger order in ${disordered} measurement(s)`);
if (overlaps || disordered) process.exit(1);
