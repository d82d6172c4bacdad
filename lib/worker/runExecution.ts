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
import type { StageRunner } from "./stageRunner.ts";

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
}

/**
 * Runs `claim`'s stages and ends the run; resolves with the run's error (null on success). Rejects
 * when the run was aborted (with the abort's reason) or could not be recorded: the caller ends it.
 */
export async function executeRun(claim: Claim, opts: ExecutionOptions): Promise<string | null> {
  const { signal, print } = opts;
  const tag = `run ${claim.run.id}`;
  const writer = new RunWriter(opts.store, claim, { clock: opts.clock, signal, log: print, tag });
  const log = new StageLog((index, lines) => writer.writeLogs(index, lines));
  const specs = stageSpecs(claim.spec);
  opts.beforeStage(specs[0]!);
  for (let index = 0; ; index++) {
    const spec = specs[index]!;
    log.open(index);
    let failure: Error | undefined;
    try {
      await opts.runner.run(spec, {
        log: (line) => {
          print?.(`${tag} ${spec.kind}: ${line}`);
          log.add(index, line);
        },
        signal,
      });
    } catch (thrown) {
      failure = coerceError(thrown);
    }
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
