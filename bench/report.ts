/** Plain-text tables of a results file. */
import { rssFlatness } from "./retention.ts";
import { httpCpuRatio, httpRateRatio, pgRatio, type Results } from "./results.ts";
import { round } from "./stats.ts";

function table(title: string, rows: Record<string, string | number>[]): void {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((r) => columns.map((c) => String(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i]!)).join("  ");
  console.log(`\n${title}\n${line(columns)}\n${cells.map(line).join("\n")}`);
}

const n = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? "-" : round(x, digits).toString());

export function printResults(r: Results): void {
  console.log(`Node ${r.node}, ${r.cpu} x${r.cores}, ${r.date}, profile ${r.profile}`);
  table(
    "Queue sweep (lib, no HTTP; 3 stages per run; wait = trigger to start, ms)",
    (r.queue?.sweep ?? []).map((p) => ({
      W: p.workers,
      P: p.pipelines,
      "D ms": p.stageMs,
      runs: p.runs,
      "runs/s": Math.round(p.runsPerSecond),
      efficiency: n(p.efficiency, 3),
      "wait p50": n(p.wait.p50, 3),
      "wait p95": n(p.wait.p95, 3),
      "wait p99": n(p.wait.p99, 3),
      "finish p50": n(p.total.p50, 3),
      "finish p99": n(p.total.p99, 3),
      "max/pipeline": p.maxConcurrentPerPipeline,
    })),
  );
  table(
    "Engine against the baseline loop, 0-ms stages (reported, no target)",
    (r.queue?.baseline ?? []).map((b) => ({ W: b.workers, P: b.pipelines, "engine runs/s": Math.round(b.engineRunsPerSecond), "baseline runs/s": Math.round(b.baselineRunsPerSecond), ratio: n(b.ratio, 3) })),
  );
  const idle = r.latency?.idle;
  if (idle)
    table(`Trigger-to-start with idle workers (W=${idle.workers}, P=${idle.pipelines}, one trigger ${idle.gapMs} ms after the last run ended), ms`, [
      { runs: idle.runs, p50: n(idle.wait.p50, 3), p95: n(idle.wait.p95, 3), p99: n(idle.wait.p99, 3), "finish p99": n(idle.total.p99, 3) },
    ]);
  const load = r.latency?.load;
  if (load)
    table(
      `Open-loop latency (W=${load.workers}, P=${load.pipelines}, D=${load.stageMs} ms, capacity ${Math.round(load.capacity)} runs/s)`,
      load.points.map((p) => ({ load: `${p.load * 100}%`, "runs/s": Math.round(p.ratePerSecond), runs: p.runs, "wait p50 ms": n(p.wait.p50, 3), "wait p99 ms": n(p.wait.p99, 3), "finish p99 ms": n(p.total.p99, 3) })),
    );
  const http = r.http?.points ?? [];
  table(
    `HTTP (autocannon, ${r.http?.connections} connections, ${r.http?.requests ? `${r.http.requests} requests a round` : `${r.http?.seconds} s`}; vs bare: medians of the paired rounds)`,
    http.map((p) => {
      const bare = p.target === "express";
      const rate = bare ? 1 : httpRateRatio(http, p.request);
      const cpu = bare ? 1 : httpCpuRatio(http, p.request);
      return { target: p.target, request: p.request, "req/s": Math.round(p.requestsPerSecond), "p50 ms": n(p.latencyP50Ms), "p99 ms": n(p.latencyP99Ms), "CPU µs/req": n(p.cpuMicrosPerRequest, 1), "req/s vs bare": n(rate, 3), "bare CPU / CPU": n(cpu, 3), errors: p.errors + p.non2xx };
    }),
  );
  const pgPoints = r.postgres?.points ?? [];
  table(
    "PostgreSQL queue against graphile-worker (one-stage runs / no-op jobs over named queues; start = trigger to start, ms)",
    pgPoints.map((p) => {
      const other = pgPoints.find((o) => o.engine === "graphile-worker" && o.processes === p.processes);
      return { engine: p.engine, processes: p.processes, concurrency: p.concurrency, queues: p.queues, jobs: p.jobs, "jobs/s": Math.round(p.jobsPerSecond), "start p50": n(p.latency.p50, 3), "start p99": n(p.latency.p99, 3), "vs graphile": other ? n(pgRatio(p, other), 3) : "-" };
    }),
  );
  const ret = r.retention;
  const flat = ret && rssFlatness(ret);
  const mb = (bytes: number | undefined) => (bytes === undefined ? "-" : n(bytes / 2 ** 20, 1));
  if (ret)
    table(`Retention (W=${ret.workers}, P=${ret.pipelines}, 0-ms runs, ${ret.retainRuns} kept; RSS after a full collection, MB, from the first sample after ${flat?.warmupRuns ?? "-"} runs)`, [
      {
        runs: ret.runs,
        "runs/s": Math.round(ret.runsPerSecond),
        kept: ret.kept,
        "RSS first": mb(flat?.first.rssBytes),
        "RSS last": mb(flat?.last.rssBytes),
        "RSS max": mb(flat?.max.rssBytes),
        "max/first": n(flat?.growth, 3),
        "since full": n(flat?.growthSinceFull, 3),
        "store heap MB": mb(ret.storeHeapBytesAtEnd),
        "heap B/kept run": Math.round(ret.heapBytesPerKeptRun),
      },
    ]);
  table(
    "Run control through the emulator's API (ms): cancel = request to a client seeing `cancelled`; lines = logged to received",
    (r.runControl ?? []).map((p) => ({
      store: p.store,
      cancels: p.cancels,
      "cancel p50": n(p.cancel.p50, 1),
      "cancel p99": n(p.cancel.p99, 1),
      lines: p.lines,
      "SSE p50": n(p.sse.p50, 1),
      "SSE p99": n(p.sse.p99, 1),
      "long-poll p50": n(p.longPoll.p50, 1),
      "long-poll p99": n(p.longPoll.p99, 1),
    })),
  );
  table(
    "Real stages, shell executor (ms): from the stage's start to its first line and to its exit; exit to recorded; bare = the command spawned alone",
    (r.shell ?? []).map((p) => ({
      command: p.command,
      runs: p.runs,
      "first line p50": n(p.firstLine?.p50, 2),
      "first line p99": n(p.firstLine?.p99, 2),
      "exit p50": n(p.exit.p50, 2),
      "exit p99": n(p.exit.p99, 2),
      "recorded p50": n(p.recorded.p50, 2),
      "recorded p99": n(p.recorded.p99, 2),
      "bare p50": n(p.bare.p50, 2),
      "bare p99": n(p.bare.p99, 2),
      "exit / bare p50": n(p.exit.p50 / p.bare.p50, 2),
    })),
  );
  const cold = r.coldstart;
  if (cold)
    table(
      `Handler bundles (cold start = spawn to handler ready, median of ${cold.samples}; empty module ${n(cold.baselineMs, 1)} ms)`,
      cold.bundles.map((b) => ({ bundle: b.name, KB: n(b.bytes / 1024, 1), "median ms": n(b.medianMs, 1), "over empty ms": n(b.overheadMs, 1) })),
    );
  table("Handler cost (mitata)", (r.handlers ?? []).map((h) => ({ case: h.name, "p50 µs": n(h.p50Ns / 1000, 2), "avg µs": n(h.avgNs / 1000, 2) })));
  table("Targets", (r.targets ?? []).map((t) => ({ target: t.name, value: n(t.value, 3), goal: t.goal, met: t.met ? "yes" : "MISSED" })));
}
