/**
 * SVG charts of a results file, drawn with vega-lite and rendered by vega in Node (no native code).
 */
import { writeFile } from "node:fs/promises";
import * as vega from "vega";
import * as vl from "vega-lite";
import type { Results } from "./results.ts";

async function render(spec: vl.TopLevelSpec, path: string): Promise<void> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  await writeFile(path, await view.toSVG());
  view.finalize();
}

const series = (p: { pipelines: number; stageMs: number }) => `P=${p.pipelines}, D=${p.stageMs} ms`;
const logX = { field: "workers", type: "quantitative", title: "workers (W)", scale: { type: "log", base: 2 } } as const;

/** Writes throughput.svg, wait-vs-workers.svg, wait-vs-load.svg and rss.svg into `dir`; returns their paths. */
export async function drawCharts(results: Results, dir: string): Promise<string[]> {
  const sweep = results.queue?.sweep ?? [];
  const throughput = sweep.flatMap((p) => [
    { workers: p.workers, runsPerSecond: p.runsPerSecond, series: series(p), kind: "measured" },
    ...(p.limit ? [{ workers: p.workers, runsPerSecond: p.limit, series: `${series(p)} limit`, kind: "limit min(W,P)/(3D)" }] : []),
  ]);
  const waits = sweep.flatMap((p) =>
    (["p50", "p99"] as const).map((q) => ({ workers: p.workers, ms: Math.max(p.wait[q], 1e-3), series: `${series(p)} ${q}` })),
  );
  const load = (results.latency?.load.points ?? []).flatMap((p) =>
    (["p50", "p95", "p99"] as const).map((q) => ({ load: p.load, ms: Math.max(p.wait[q], 1e-3), percentile: q })),
  );
  const paths: string[] = [];
  const chart = async (name: string, title: string, values: object[], x: object, y: object, color: object) => {
    const spec: vl.TopLevelSpec = { title, width: 520, height: 320, data: { values }, mark: { type: "line", point: true }, encoding: { x, y, ...color } };
    await render(spec, `${dir}/${name}`);
    paths.push(`${dir}/${name}`);
  };
  const logMs = { field: "ms", type: "quantitative", title: "wait (ms)", scale: { type: "log" } };
  if (throughput.length) {
    await chart(
      "throughput.svg",
      "Queue throughput against workers (3 stages per run)",
      throughput,
      logX,
      { field: "runsPerSecond", type: "quantitative", title: "runs/s", scale: { type: "log" } },
      { color: { field: "series", type: "nominal", title: null }, strokeDash: { field: "kind", type: "nominal", title: null } },
    );
    await chart("wait-vs-workers.svg", "Trigger-to-start wait against workers (all runs triggered at once)", waits, logX, logMs, {
      color: { field: "series", type: "nominal", title: null },
    });
  }
  if (load.length) {
    await chart(
      "wait-vs-load.svg",
      "Trigger-to-start wait under open-loop load",
      load,
      { field: "load", type: "quantitative", title: "load (fraction of measured capacity)", axis: { format: "%" } },
      logMs,
      { color: { field: "percentile", type: "nominal", title: null } },
    );
  }
  const memory = (results.retention?.samples ?? []).flatMap((p) => [
    { runs: p.runs, mb: p.rssBytes / 2 ** 20, series: "RSS" },
    { runs: p.runs, mb: p.heapUsedBytes / 2 ** 20, series: "heap used" },
  ]);
  if (memory.length) {
    await chart(
      "rss.svg",
      `Memory under retention (${results.retention!.retainRuns} finished runs kept), after a full collection`,
      memory,
      { field: "runs", type: "quantitative", title: "runs finished" },
      { field: "mb", type: "quantitative", title: "MB" },
      { color: { field: "series", type: "nominal", title: null } },
    );
  }
  return paths;
}
