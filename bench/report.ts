/** Plain-text tables of a results file. */
import { httpRatio, pgRatio, type Results } from "./results.ts";
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
    "Engine against the baseline loop, 0-ms stages",
    (r.queue?.baseline ?? []).map((b) => ({ W: b.workers, P: b.pipelines, "engine runs/s": Math.round(b.engineRunsPerSecond), "baseline runs/s": Math.round(b.baselineRunsPerSecond), ratio: n(b.ratio, 3) })),
  );
  if (r.latency)
    table(
      `Open-loop latency (W=${r.latency.workers}, P=${r.latency.pipelines}, D=${r.latency.stageMs} ms, capacity ${Math.round(r.latency.capacity)} runs/s)`,
      r.latency.points.map((p) => ({ load: `${p.load * 100}%`, "runs/s": Math.round(p.ratePerSecond), runs: p.runs, "wait p50 ms": n(p.wait.p50, 3), "wait p99 ms": n(p.wait.p99, 3), "finish p99 ms": n(p.total.p99, 3) })),
    );
  const http = r.http?.points ?? [];
  table(
    `HTTP (autocannon, ${r.http?.connections} connections, ${r.http?.requests ? `${r.http.requests} requests a round` : `${r.http?.seconds} s`})`,
    http.map((p) => {
      const ratio = p.target === "express" ? 1 : httpRatio(http, p.request);
      return { target: p.target, request: p.request, "req/s": Math.round(p.requestsPerSecond), "p50 ms": n(p.latencyP50Ms), "p99 ms": n(p.latencyP99Ms), "CPU µs/req": n(p.cpuMicrosPerRequest, 1), "vs bare (median of rounds)": ratio === undefined ? "-" : n(ratio, 3), errors: p.errors + p.non2xx };
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
  const k = r.kept;
  if (k)
    table("Kept runs (one in-memory store filled with finished runs; full GC = median of five, ms)", [
      { runs: k.runs, "fill runs/s": Math.round(k.fillRunsPerSecond), "heap B/run": Math.round(k.heapBytesPerRun), "buffers B/run": Math.round(k.arrayBufferBytesPerRun), "full GC empty": n(k.fullGcEmptyMs, 1), "full GC kept": n(k.fullGcKeptMs, 1) },
    ]);
  table("Handler cost (mitata)", (r.handlers ?? []).map((h) => ({ case: h.name, "p50 µs": n(h.p50Ns / 1000, 2), "avg µs": n(h.avgNs / 1000, 2) })));
  table("Targets", (r.targets ?? []).map((t) => ({ target: t.name, value: n(t.value, 3), goal: t.goal, met: t.met ? "yes" : "MISSED" })));
}
