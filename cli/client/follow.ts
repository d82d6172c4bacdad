/**
 * Following a run to its end: poll GET /runs/{id}, print each stage as its status changes and each new
 * log line, stop when the run is terminal or when the user presses Ctrl-C.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Run } from "../../lib/api/schemas.ts";
import type { StagerunnerApi } from "./api.ts";
import { stageProgress } from "./format.ts";

export const TERMINAL: ReadonlySet<Run["status"]> = new Set(["success", "failed", "cancelled"]);

export interface FollowOptions {
  intervalMs: number;
  /** Aborting stops the loop at once, even in the middle of a request. */
  signal?: AbortSignal;
  print: (line: string) => void;
  /** Put before every line, so that several runs followed at once can be told apart. */
  prefix?: string;
}

/** Polls until `run` is terminal; resolves with its last state. Rejects with the abort reason if aborted. */
export async function followRun(api: StagerunnerApi, run: Run, opts: FollowOptions): Promise<Run> {
  const seen = new Map<string, { status: string; logs: number }>();
  const print = (line: string) => opts.print(`${opts.prefix ?? ""}${line}`);
  for (;;) {
    report(run, seen, print);
    if (TERMINAL.has(run.status)) return run;
    try {
      await sleep(opts.intervalMs, undefined, { signal: opts.signal });
      run = await api.getRun(run.id, opts.signal);
    } catch (error) {
      // timers/promises rejects with its own AbortError; the caller wants to know why it was aborted.
      throw opts.signal?.aborted ? opts.signal.reason : error;
    }
  }
}

function report(run: Run, seen: Map<string, { status: string; logs: number }>, print: (line: string) => void): void {
  for (const stage of run.stages) {
    const before = seen.get(stage.name) ?? { status: "pending", logs: 0 };
    const changed = stage.status !== before.status;
    const logs = stage.logs.slice(before.logs).map((line) => `      ${line}`);
    // A stage's closing log line ("done in ...") belongs before its final status, its opening line after `running`.
    const finished = stage.finished_at !== null;
    if (changed && !finished) print(stageProgress(stage));
    logs.forEach(print);
    if (changed && finished) print(stageProgress(stage));
    seen.set(stage.name, { status: stage.status, logs: stage.logs.length });
  }
}

/**
 * Runs `work` with a signal that SIGINT aborts; while it runs, Ctrl-C stops the work instead of killing
 * the process, so that the caller can say what was left behind. The handler is removed afterwards.
 */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Interrupted());
  process.once("SIGINT", onSigint);
  try {
    return await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** The user pressed Ctrl-C. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "Interrupted";
  }
}
