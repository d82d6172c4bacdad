/**
 * Cold start of every bundle in dist/handlers: the time from spawning a fresh `node` to the child
 * having imported the bundle and found its `handler`, median of several samples, against the same for
 * an empty .mjs module (the cost of starting node itself); and each bundle's size. Targets: at most
 * +50 ms over the empty module and 185 KB.
 *
 *     npm run coldstart [-- distDir]     builds first when dist/handlers is missing
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { median } from "./stats.ts";

/** Largest accepted overhead of a bundle's cold start over node's own, ms. */
export const COLD_START_BUDGET_MS = 50;

/** Largest accepted bundle, bytes. */
export const BUNDLE_SIZE_TARGET = 185 * 1024;

export interface ColdStart {
  name: string;
  bytes: number;
  medianMs: number;
  /** medianMs less the empty module's median. */
  overheadMs: number;
  /** Within both the cold-start budget and the size target. */
  withinBudget: boolean;
}

export interface ColdStarts {
  samples: number;
  /** Median spawn-to-ready of the empty module: node's start-up alone. */
  baselineMs: number;
  bundles: ColdStart[];
}

// A .mjs file, not `node -e`: an -e script is CommonJS, where a bundle's failing require() would be
// hidden. The ready line says whether `handler` is a function, so a broken bundle is not timed as fast.
const CHILD = `const m = await import(process.argv[2]);
process.stdout.write("ready " + typeof m.handler + "\\n");
`;

/**
 * What a deployed function has. The bundles read it, and connect, on their first invocation, not on
 * import, so the database it names need not exist.
 */
const deployedEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, STAGERUNNER_TOKEN: "cold-start", DATABASE_URL: "postgres://cold-start.invalid/stagerunner", NODE_ENV: "production" });

/**
 * Spawns node on the child script with `module`; ms from spawn to the ready line. Resolves once the
 * child has exited, so that the next sample does not start beside it.
 */
function spawnToReady(child: string, module: string, expect: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, [child, pathToFileURL(module).href], { env: deployedEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let readyMs: number | undefined;
    // A bundle that left a handle open on import would keep its process alive: it is ended instead.
    const linger = setTimeout(() => proc.kill(), 5_000);
    proc.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (readyMs === undefined && out.includes("\n")) readyMs = performance.now() - started;
    });
    proc.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    proc.on("error", reject);
    proc.on("close", (code) => {
      clearTimeout(linger);
      const line = out.split("\n")[0];
      if (readyMs !== undefined && line === `ready ${expect}`) resolvePromise(readyMs);
      else reject(new Error(`${basename(module)}: expected "ready ${expect}", got ${JSON.stringify(line)} (exit ${code})\n${err}`));
    });
  });
}


/**
 * Measures every dist/handlers/*.mjs in `distDir`. Samples are taken round-robin over the bundles
 * and the baseline, one process at a time, so that drift in the machine's load is shared by all.
 */
export async function measureColdStarts(distDir: string, samples = 11): Promise<ColdStarts> {
  const dir = join(distDir, "handlers");
  const names = (await readdir(dir)).filter((f) => f.endsWith(".mjs")).sort();
  if (names.length === 0) throw new Error(`no bundles in ${dir}: run npm run build`);
  const work = await mkdtemp(join(tmpdir(), "coldstart-"));
  try {
    const child = join(work, "child.mjs");
    const empty = join(work, "empty.mjs");
    await writeFile(child, CHILD);
    await writeFile(empty, "");
    const targets = [{ name: "(empty module)", path: empty, expect: "undefined" }, ...names.map((f) => ({ name: basename(f, ".mjs"), path: join(dir, f), expect: "function" }))];
    // One unmeasured round: reads every file into the page cache, as a warm machine would have it.
    for (const t of targets) await spawnToReady(child, t.path, t.expect);
    const times = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let i = 0; i < samples; i++) for (const t of targets) times.get(t.name)!.push(await spawnToReady(child, t.path, t.expect));
    const baselineMs = median(times.get(targets[0]!.name)!);
    const bundles = await Promise.all(
      targets.slice(1).map(async (t): Promise<ColdStart> => {
        const medianMs = median(times.get(t.name)!);
        const overheadMs = medianMs - baselineMs;
        const bytes = (await stat(t.path)).size;
        return { name: t.name, bytes, medianMs, overheadMs, withinBudget: overheadMs <= COLD_START_BUDGET_MS && bytes <= BUNDLE_SIZE_TARGET };
      }),
    );
    return { samples, baselineMs, bundles };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The result as a Markdown table, ready for the README. */
export function coldStartTable({ samples, baselineMs, bundles }: ColdStarts): string {
  const rows = bundles.map(
    (b) => `| ${b.name} | ${(b.bytes / 1024).toFixed(1)} | ${b.medianMs.toFixed(1)} | +${b.overheadMs.toFixed(1)} | ${b.withinBudget ? "yes" : "**no**"} |`,
  );
  return [
    `Cold start, spawn to \`handler\` ready, median of ${samples} (node ${process.version}); empty module: ${baselineMs.toFixed(1)} ms`,
    "",
    `| bundle | KB | median ms | over empty, ms | within ${BUNDLE_SIZE_TARGET / 1024} KB and +${COLD_START_BUDGET_MS} ms |`,
    "| --- | ---: | ---: | ---: | --- |",
    ...rows,
  ].join("\n");
}

/** Builds every bundle into a scratch folder (dist/ is left alone) and measures them there. */
export async function measureFreshBuild(samples: number): Promise<ColdStarts> {
  const { buildBundles } = await import("../local/build.ts");
  const dir = await mkdtemp(join(tmpdir(), "stagerunner-bundles-"));
  try {
    await buildBundles(dir);
    return await measureColdStarts(dir, samples);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const defaultDist = resolve(new URL("../dist", import.meta.url).pathname);
  const distDir = resolve(process.argv[2] ?? defaultDist);
  // buildBundles empties its output folder first: build only into dist/ or a folder not there yet.
  if (!existsSync(join(distDir, "handlers")) && (distDir === defaultDist || !existsSync(distDir))) {
    const { buildBundles } = await import("../local/build.ts");
    await buildBundles(distDir);
  }
  const result = await measureColdStarts(distDir);
  console.log(coldStartTable(result));
  if (result.bundles.some((b) => !b.withinBudget)) process.exit(1);
}
