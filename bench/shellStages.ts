/**
 * What a real stage adds to its command (the shell executor, in memory, one worker), per command:
 * - start to first line: from the worker starting the stage to the command's first line of output
 *   reaching the stage's log (spawn, process group, watchdog, pipes);
 * - start to exit: from the worker starting the stage to the runner having the exit status and every
 *   line (for `true`, the whole cost of a process);
 * - exit to recorded: from there to the stage's status written in the store (lines still buffered
 *   go with it).
 * The baseline, measured in the same run, is the same command spawned bare with child_process and
 * read to its end: what running it costs at all.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Run } from "../lib/api/schemas.ts";
import { MemoryStore } from "../lib/store/memory/memoryStore.ts";
import { RunWatch } from "../lib/store/follow.ts";
import { isTerminal } from "../lib/store/stages.ts";
import type { Store } from "../lib/store/store.ts";
import { DEFAULT_BUILD_COMMAND, DEFAULT_DEPLOY_COMMAND, parseTemplate } from "../lib/worker/shell/commands.ts";
import { shellRunner } from "../lib/worker/shell/shellRunner.ts";
import type { StageRunner } from "../lib/worker/stageRunner.ts";
import { WorkerPool } from "../lib/worker/pool.ts";
import { wrapStore } from "../test/support/storeWrappers.ts";
import { percentiles, type Percentiles } from "./stats.ts";

export interface ShellPoint {
  command: string;
  runs: number;
  /** Lines the command prints. */
  lines: number;
  firstLine: Percentiles | undefined;
  exit: Percentiles;
  recorded: Percentiles;
  /** The same command spawned bare, to its end. */
  bare: Percentiles;
}

const COMMANDS = [
  { command: "true", lines: 0 },
  { command: "seq 100000", lines: 100_000 },
];

export async function measureShellStages(runs: number): Promise<ShellPoint[]> {
  const workspaceDir = mkdtempSync(join(tmpdir(), "sr-bench-shell-"));
  try {
    const points = [];
    for (const { command, lines } of COMMANDS) points.push(await measureCommand(command, lines, runs, workspaceDir));
    return points;
  } finally {
    rmSync(workspaceDir, { recursive: true, force: true });
  }
}

async function measureCommand(command: string, lines: number, runs: number, workspaceDir: string): Promise<ShellPoint> {
  const times = { start: [] as number[], firstLine: [] as number[], exit: [] as number[], recorded: [] as number[] };
  const inner = shellRunner({
    workspaceDir,
    keepWorkspaces: false,
    templates: { build: parseTemplate("build", DEFAULT_BUILD_COMMAND), deploy: parseTemplate("deploy", DEFAULT_DEPLOY_COMMAND) },
    secrets: {},
    killGraceMs: 1000,
  });
  // The command's own first line is the first after the runner's "$ <command>".
  const runner: StageRunner = {
    async run(stage, ctx) {
      times.start.push(performance.now());
      let echoed = false;
      let first = NaN;
      await inner.run(stage, {
        ...ctx,
        log: (line) => {
          if (echoed && Number.isNaN(first)) first = performance.now();
          if (line === `$ ${command}`) echoed = true;
          ctx.log(line);
        },
      });
      times.firstLine.push(first);
      times.exit.push(performance.now());
    },
    endRun: (run) => inner.endRun!(run),
  };
  const memory = new MemoryStore();
  const store = wrapStore(memory, {
    finishRun: async (claim, status, error, last) => {
      await memory.finishRun(claim, status, error, last);
      times.recorded.push(performance.now());
    },
  });
  const pool = new WorkerPool({ store, runner, size: 1 });
  pool.start();
  const pipeline = await store.createPipeline({ name: "bench-shell", repository: "bench", stages: { run_stage: { command } } });
  for (let i = 0; i < runs; i++) {
    const { id } = (await store.triggerRun(pipeline.id, "main"))!;
    const done = await finished(store, id);
    if (done?.status !== "success") throw new Error(`bench-shell: ${command} ended ${done?.status}: ${done?.error}`);
  }
  await pool.stop(0);
  const since = (from: number[], to: number[]) => percentiles(to.map((t, i) => t - from[i]!));
  return {
    command,
    runs,
    lines,
    firstLine: lines > 0 ? since(times.start, times.firstLine) : undefined,
    exit: since(times.start, times.exit),
    recorded: since(times.exit, times.recorded),
    bare: percentiles(await bareRuns(command, runs)),
  };
}

/** The run once it has ended. */
async function finished(store: Store, id: string): Promise<Run | undefined> {
  const watch = new RunWatch(store, id);
  try {
    for (;;) {
      watch.read();
      const run = await store.getRun(id);
      if (!run || isTerminal(run.status)) return run;
      await watch.wait(Infinity);
    }
  } finally {
    watch.close();
  }
}

/** The command spawned with child_process and read to its end, `runs` times: ms each. */
async function bareRuns(command: string, runs: number): Promise<number[]> {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const child = spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.resume();
    child.stderr.resume();
    await once(child, "close");
    samples.push(performance.now() - start);
  }
  return samples;
}
