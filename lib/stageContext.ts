/**
 * What a stage runner is given for one stage: a log that writes to that stage alone (a line a runner
 * logs after its stage has ended is dropped, not put under the next one), and the run's abort signal,
 * made only if the runner asks for it.
 */
import type { LazyAbort } from "./lazyAbort.ts";
import type { StageLog } from "./stageLog.ts";
import type { StageContext } from "./stageRunner.ts";

export class StageRunContext implements StageContext {
  /** Bound, so that a runner may pass it around as a callback. */
  readonly log: (line: string) => void;

  /** `print` also prints each line as a progress line; undefined for a silent pool. */
  constructor(
    private readonly abort: LazyAbort,
    stageLog: StageLog,
    index: number,
    print: ((line: string) => void) | undefined,
  ) {
    // Assigned here rather than as an arrow property, which tsx (keepNames) names at run time: a
    // defineProperty per stage.
    this.log = print ? (line) => (print(line), stageLog.add(index, line)) : (line) => stageLog.add(index, line);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}
