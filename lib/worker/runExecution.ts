/**
 * Executes one claimed run: its stages in order through the stage runner, each stage's lines to the
 * store as they come, and the run's end (success, or failed at the first failed stage). A run of n
 * stages is n + 1 writes: the claim starts the first stage, each stage's end starts the next, and the
 * last one's goes with the run's end.
 */
import { coerceError } from "../api/errors.ts";
import type { Clock } from "../clock.ts";
import { stageSpecs, type StageSpec } from "../store/stages.ts";
import type { Claim, Store } from "../store/store.ts";
import { RunWriter } from "./runWriter.ts";
import { StageLog } from "./stageLog.ts";
import { StageFailedError, type RunContext, type StageRunner } from "./stageRunner.ts";

export interface ExecutionOptions {
  store: Store;
  runner: StageRunner;
  clock: Clock;
  /** Aborted when the run is cancelled, its claim lost, or the shutdown grace is over. */
  signal: AbortSignal;
  /** Progress lines (the server prints them); undefined for a silent pool. */
  print: ((line: string) => void) | undefined;
  /** Called before each stage starts; throws (ShutdownAbort) when the stage must not start. */
  beforeStage: (stage: StageSpec) => void;
  /** A stage's time limit when its spec sets none. */
  stageTimeoutS: number;
}

/** What the stage runner is told of `claim`'s run, for one execution of it. */
export const runContext = ({ run, pipeline }: Claim): RunContext => ({
  id: run.id,
  pipelineId: run.pipeline_id,
  pipelineName: pipeline.name,
  repository: pipeline.repository,
  gitRef: run.git_ref,
  env: run.env,
});

/**
 * Runs `claim`'s stages and ends the run; resolves with the run's error (null on success). Rejects
 * when the run was aborted (with the abort's reason) or could not be recorded: the caller ends it.
 */
export async function executeRun(claim: Claim, run: RunContext, opts: ExecutionOptions): Promise<string | null> {
  const { signal, print } = opts;
  const tag = `run ${claim.run.id}`;
  const writer = new RunWriter(opts.store, claim, { clock: opts.clock, signal, log: print, tag });
  const log = new StageLog((index, lines) => writer.writeLogs(index, lines));
  const specs = stageSpecs(claim.spec);
  const execution: Execution = { run, log, writer, tag };
  opts.beforeStage(specs[0]!);
  for (let index = 0; ; index++) {
    const spec = specs[index]!;
    log.open(index);
    const failure = await runStage(spec, index, opts, execution);
    const lines = await log.close();
    if (signal.aborted) {
      // Keep what the stage logged while it was being stopped; the caller ends the run.
      if (lines.length) await writer.writeLogs(index, lines).catch(() => {});
      throw signal.reason;
    }
    const next = failure ? undefined : specs[index + 1];
    if (!next) {
      const error = failure ? failure.message : null;
      if (failure) lines.push(`error: ${failure.message}`);
      await writer.finish(failure ? "failed" : "success", error, { index, status: failure ? "failed" : "success", logs: lines });
      return error;
    }
    try {
      opts.beforeStage(next);
    } catch (shutdown) {
      await writer.stageSucceeded(index, lines, false);
      throw shutdown;
    }
    await writer.stageSucceeded(index, lines, true);
  }
}

/**
 * What a run's stages share besides the pool's options. Passed beside them rather than spread into one
 * object with them: on Node 20, an object spread followed by new properties gets a hidden class of its
 * own every time (see bench/README.md, retention).
 */
interface Execution {
  run: RunContext;
  log: StageLog;
  writer: RunWriter;
  tag: string;
}

/**
 * Runs one stage through its attempts: each limited to the stage's timeout, a failed or timed-out
 * attempt followed by another while retries are left (after a short back-off, its lines marked with
 * its number). Resolves with the last attempt's failure, or undefined on success; an abort of the run
 * (a cancel, the shutdown) is never retried.
 */
async function runStage(spec: StageSpec, index: number, opts: ExecutionOptions, execution: Execution): Promise<Error | undefined> {
  const { signal, clock } = opts;
  const { log, tag, writer } = execution;
  const attempts = 1 + (spec.retries ?? 0);
  const timeoutS = spec.timeout_seconds ?? opts.stageTimeoutS;
  for (let attempt = 1; ; attempt++) {
    const mark = attempt > 1 ? `[attempt ${attempt}] ` : "";
    // The attempt's own abort: the run's (a cancel, the shutdown) or its time limit's, through a listener
    // that the attempt removes when it ends (AbortSignal.any leaves that to the garbage collector).
    const stage = new AbortController();
    const forward = () => stage.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener("abort", forward, { once: true });
    let timedOut = false;
    const cancelTimer = clock.timer(timeoutS * 1000, () => {
      timedOut = true;
      stage.abort(new StageFailedError(`${spec.kind} stage timed out after ${timeoutS} s`));
    });
    let failure: Error | undefined;
    try {
      await opts.runner.run(spec, {
        log: (line) => {
          opts.print?.(`${tag} ${spec.kind}: ${mark}${line}`);
          log.add(index, mark + line);
        },
        signal: stage.signal,
        run: execution.run,
      });
    } catch (thrown) {
      failure = coerceError(timedOut && !signal.aborted ? stage.signal.reason : thrown);
    } finally {
      cancelTimer();
      signal.removeEventListener("abort", forward);
    }
    if (!failure || signal.aborted || attempt >= attempts) return failure;
    const delay = RETRY_BACKOFF_MS * 2 ** (attempt - 1);
    log.add(index, `${mark}${failure.message}; retrying in ${delay / 1000} s (attempt ${attempt + 1} of ${attempts})`);
    await clock.sleep(delay, signal).catch(() => {});
    if (signal.aborted) return failure;
    await writer.startAttempt(index, attempt + 1);
  }
}

/** The wait before a stage's second attempt; doubled for each one after. */
const RETRY_BACKOFF_MS = 1000;

/** The longest a stage can take, every attempt of `attemptMs` used up and the back-offs between them. */
export const worstCaseMs = (spec: StageSpec, attemptMs: number): number => {
  const retries = spec.retries ?? 0;
  return (1 + retries) * attemptMs + RETRY_BACKOFF_MS * (2 ** retries - 1);
};
