/**
 * `npm run bench [-- --quick | --tiny] [part ...] [--out file]`, parts: queue latency http handlers
 * postgres retention coldstart runcontrol shell (postgres: STAGERUNNER_BENCH_DATABASE_URL, else
 * STAGERUNNER_TEST_DATABASE_URL, else the local server)
 *
 * Runs the parts asked for (all by default), shows progress on stderr, writes every figure to a
 * results file, prints tables and the target checks, and (for a full run) draws the charts. Exits 1 if
 * two runs of one pipeline were ever seen running at once, or a pipeline's runs started out of order.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { redactUrl } from "../lib/config/settings.ts";
import { measureBaseline, versusBaseline } from "./baseline.ts";
import { drawCharts } from "./charts.ts";
import { measureFreshBuild } from "./coldStart.ts";
import { measureEngineRate, measurePoint } from "./engine.ts";
import { measureHandlers } from "./handlers.ts";
import { measureHttp, type HttpOptions } from "./http.ts";
import { measureIdle, measureLoad } from "./latency.ts";
import { measurePostgres, withDatabase } from "./postgres.ts";
import { printResults } from "./report.ts";
import { checkTargets, machine, type Results } from "./results.ts";
import { measureRetention } from "./retention.ts";
import { measureRunControl } from "./runControl.ts";
import { measureShellStages } from "./shellStages.ts";

const pgAdminUrl = process.env.STAGERUNNER_BENCH_DATABASE_URL || process.env.STAGERUNNER_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const PG = { concurrency: 10, queues: 64, latencyRatePerSecond: 50 };
const PROFILES = {
  full: {
    sweep: { workers: [1, 2, 4, 8, 16, 32, 64], pipelines: [1, 64], stageMs: [0, 5], runsAtZero: 20_000, rounds: 40 },
    baseline: { workers: [1, 8, 64], rounds: 5 },
    latency: { idleRuns: 2_000, loadSeconds: 3 },
    http: { connections: 50, seconds: 10, rounds: 5, warmupSeconds: 2 },
    pg: { ...PG, processes: [1, 2, 4], jobs: 4000, rounds: 4, latencyJobs: 200 },
    retention: { runs: 1_000_000, every: 25_000 },
    handlers: {},
    coldstartSamples: 11,
    runControl: { cancels: 200, lines: 1000 },
    shellRuns: 50,
  },
  quick: {
    sweep: { workers: [1, 2, 4, 8, 16, 32, 64], pipelines: [1, 64], stageMs: [0, 5], runsAtZero: 2_000, rounds: 6 },
    baseline: { workers: [1, 8, 64], rounds: 3 },
    latency: { idleRuns: 500, loadSeconds: 0.5 },
    http: { connections: 50, seconds: 0, requests: 500, rounds: 2, warmupSeconds: 0 },
    pg: { ...PG, processes: [1], jobs: 500, rounds: 2, latencyJobs: 25 },
    retention: { runs: 100_000, every: 10_000 },
    // mitata times a fast function in batches of 4,096 calls by default, 12 batches at the least.
    handlers: { min_cpu_time: 50e6, batch_samples: 256 },
    coldstartSamples: 3,
    runControl: { cancels: 40, lines: 200 },
    shellRuns: 10,
  },
  tiny: {
    sweep: { workers: [1, 4], pipelines: [1, 4], stageMs: [0, 1], runsAtZero: 200, rounds: 3 },
    baseline: { workers: [1, 4], rounds: 1 },
    latency: { idleRuns: 100, loadSeconds: 0.1 },
    http: { connections: 4, seconds: 0, requests: 50, rounds: 1, warmupSeconds: 0 },
    pg: { ...PG, processes: [1], jobs: 100, rounds: 2, latencyJobs: 10 },
    retention: { runs: 14_000, every: 2_000 },
    handlers: { min_cpu_time: 1e6, min_samples: 4, batch_samples: 16 },
    coldstartSamples: 1,
    runControl: { cancels: 5, lines: 20 },
    shellRuns: 3,
  },
};
const PARTS = ["queue", "latency", "http", "handlers", "postgres", "retention", "coldstart", "runcontrol", "shell"] as const;
type Part = (typeof PARTS)[number];
const USAGE = `usage: npm run bench [-- --quick | --tiny] [${PARTS.join("] [")}] [--out file]`;

const { values, positionals } = parseArgs({
  options: { quick: { type: "boolean" }, tiny: { type: "boolean" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = positionals.filter((p) => !PARTS.includes(p as Part));
if (unknown.length) {
  console.error(`bench: unknown part ${unknown.join(", ")}; ${USAGE}`);
  process.exit(2);
}
const parts = new Set<Part>(positionals.length ? (positionals as Part[]) : PARTS);
const profileName = values.tiny ? "tiny" : values.quick ? "quick" : "full";
const profile = PROFILES[profileName];
const out = values.out ?? new URL(`./results/${profileName === "full" ? "latest" : profileName}.json`, import.meta.url).pathname;
const progress = (line: string) => process.stderr.write(`\r\x1b[K${line}`);

const results: Results = { ...machine(), profile: profileName, parameters: { ...profile, parts: [...parts] } };

if (parts.has("queue")) {
  const { sweep: s, baseline: b } = profile;
  // The engine against the baseline first, before the recording decorator has run in this process:
  // the emulator runs one kind of store, and calls that have also gone to the decorator are polymorphic.
  await measureEngineRate(4, 4, s.runsAtZero);
  await measureBaseline(4, 4, s.runsAtZero);
  const baseline = [];
  for (const pipelines of s.pipelines)
    for (const workers of b.workers) {
      progress(`queue: engine against baseline, W=${workers} P=${pipelines}`);
      baseline.push(await versusBaseline(workers, pipelines, s.runsAtZero, b.rounds));
    }
  // Warm-up of the recorded engine, with stages that finish at once and with stages that sleep.
  await measurePoint(4, 4, 0, s.runsAtZero);
  await measurePoint(8, 8, 1, 8 * s.rounds);
  const sweep = [];
  for (const stageMs of s.stageMs)
    for (const pipelines of s.pipelines)
      for (const workers of s.workers) {
        progress(`queue: W=${workers} P=${pipelines} D=${stageMs} ms`);
        const runs = stageMs === 0 ? s.runsAtZero : Math.min(workers, pipelines) * s.rounds;
        sweep.push(await measurePoint(workers, pipelines, stageMs, runs));
      }
  results.queue = { sweep, baseline };
}
if (parts.has("latency")) {
  const workers = 8;
  const pipelines = 64;
  const stageMs = profileName === "tiny" ? 1 : 5;
  progress("latency: idle workers");
  const idle = await measureIdle(workers, pipelines, profile.latency.idleRuns);
  // The open-loop rates are fractions of the capacity of their configuration, measured by the sweep or here.
  const known = results.queue?.sweep.find((p) => p.workers === workers && p.pipelines === pipelines && p.stageMs === stageMs);
  progress("latency: measuring capacity");
  const capacity = known?.runsPerSecond ?? (await measurePoint(workers, pipelines, stageMs, workers * profile.sweep.rounds)).runsPerSecond;
  const points = [];
  for (const load of [0.25, 0.5, 0.9]) {
    progress(`latency: ${Math.round(load * 100)}% of ${Math.round(capacity)} runs/s`);
    points.push(await measureLoad(workers, pipelines, stageMs, load, capacity, profile.latency.loadSeconds));
  }
  results.latency = { idle, load: { workers, pipelines, stageMs, capacity, points } };
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
if (parts.has("retention")) {
  const { runs, every } = profile.retention;
  progress(`retention: ${runs} runs through one store`);
  results.retention = await measureRetention(runs, every, 8, 64);
}
if (parts.has("runcontrol")) {
  progress("runcontrol: in memory");
  results.runControl = [await measureRunControl(profile.runControl)];
  try {
    progress("runcontrol: PostgreSQL, a worker in another process");
    results.runControl.push(await withDatabase(pgAdminUrl, (pgUrl) => measureRunControl({ ...profile.runControl, pgUrl })));
  } catch (error) {
    if (positionals.includes("runcontrol") || !(error instanceof Error && /ECONNREFUSED|does not exist|password/.test(error.message))) throw error;
    console.error(`\nruncontrol: PostgreSQL skipped, ${redactUrl(pgAdminUrl)} is not reachable (${error.message})`);
  }
}
if (parts.has("shell")) {
  progress("shell: real stages, `true` and 100,000 lines");
  results.shell = await measureShellStages(profile.shellRuns);
}
if (parts.has("handlers")) {
  progress("handlers: mitata");
  results.handlers = await measureHandlers(profile.handlers);
}
if (parts.has("coldstart")) {
  progress("coldstart: building and starting every bundle");
  results.coldstart = await measureFreshBuild(profile.coldstartSamples);
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

const measured = [...(results.queue?.sweep ?? []), ...(results.latency?.load.points ?? []), ...(results.latency ? [results.latency.idle] : [])];
const overlaps = measured.filter((p) => p.maxConcurrentPerPipeline > 1).length;
const disordered = measured.filter((p) => p.outOfOrder > 0).length;
if (overlaps) console.error(`FAILED: two runs of one pipeline ran at once in ${overlaps} measurement(s)`);
if (disordered) console.error(`FAILED: a pipeline's runs started out of trigger order in ${disordered} measurement(s)`);
if (overlaps || disordered) process.exit(1);
