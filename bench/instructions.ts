/**
 * `npx tsx bench/instructions.ts [--workers 8] [--pipelines 64] [--from 3] [--to 9] [--profile dir]`
 *
 * The engine and the baseline loop at 0-ms stages, counted in machine instructions rather than timed:
 * wall-clock runs of the same code differ by up to 40% on these shared machines, so a change of a few
 * percent can only be judged this way. Each is run under valgrind's callgrind (a Debian package) with V8
 * made deterministic, for `from` and for `to` rounds of 20,000 runs; the difference, divided by the runs
 * between, is the cost of a run once the code is optimized (the first rounds compile it). Repeatable to
 * a few hundred instructions a run: a full collection falls at a different point when the code changes.
 *
 * With --profile, the `to` runs' callgrind files go to `dir` with V8's perf map of JIT-compiled code
 * beside them (callgrind_annotate names builtins and C++; the map names JavaScript functions).
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const RUNS = 20_000;
const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "8" },
    pipelines: { type: "string", default: "64" },
    from: { type: "string", default: "3" },
    to: { type: "string", default: "9" },
    profile: { type: "string" },
  },
});
const [workers, pipelines, from, to] = [values.workers, values.pipelines, values.from, values.to].map(Number) as [number, number, number, number];
if (![workers, pipelines, from, to].every((n) => Number.isInteger(n) && n > 0) || to <= from) {
  console.error("instructions: --workers, --pipelines, --from and --to are whole numbers > 0, with --to above --from");
  process.exit(2);
}
if (spawnSync("valgrind", ["--version"]).error) {
  console.error("instructions: valgrind is not installed (apt-get install valgrind)");
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), "stagerunner-instructions-"));
const bundle = join(dir, "entry.mjs");
await build({
  entryPoints: [new URL("./instructionsEntry.ts", import.meta.url).pathname],
  bundle: true,
  platform: "node",
  format: "esm",
  outfile: bundle,
  logLevel: "warning",
  // Bundled CommonJS dependencies call require.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
});

/** Instructions executed by `rounds` rounds of `what`; with `profile`, its callgrind file kept there. */
function count(what: string, rounds: number, profile?: string): Promise<number> {
  const out = profile ? join(profile, `callgrind.${what}.out`) : "/dev/null";
  const node = ["node", "--predictable", "--random-seed=42", "--hash-seed=42", ...(profile ? ["--perf-basic-prof"] : [])];
  const args = ["--tool=callgrind", `--callgrind-out-file=${out}`, ...node, bundle, what, ...[workers, pipelines, RUNS, rounds].map(String)];
  return new Promise((resolve, reject) => {
    // Run in the scratch directory: with --perf-basic-prof, V8 leaves an isolate log in its working directory.
    const child = spawn("valgrind", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", async (code) => {
      const collected = /Collected : (\d+)/.exec(stderr);
      if (code !== 0 || !collected) return reject(new Error(`valgrind ${what} ${rounds} exited ${code}: ${stderr.slice(-500)}`));
      if (profile) await copyFile(`/tmp/perf-${child.pid}.map`, `${out}.map`).catch(() => {});
      resolve(Number(collected[1]));
    });
  });
}

try {
  const profile = values.profile && resolve(values.profile);
  if (profile) await mkdir(profile, { recursive: true });
  const perRun: Record<string, number> = {};
  // Two at a time: these machines have two cores, and each count is of its own process alone.
  for (const what of ["engine", "baseline"]) {
    process.stderr.write(`counting ${what} (${from} and ${to} rounds of ${RUNS} runs, W = ${workers}, P = ${pipelines})...\n`);
    const [first, last] = await Promise.all([count(what, from), count(what, to, profile)]);
    perRun[what] = Math.round((last - first) / ((to - from) * RUNS));
  }
  const { engine, baseline } = perRun as { engine: number; baseline: number };
  console.log(`engine   ${engine} instructions a run`);
  console.log(`baseline ${baseline} instructions a run`);
  console.log(`ratio    ${(baseline / engine).toFixed(3)} (the bench's engine/baseline runs/s, by instructions)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
