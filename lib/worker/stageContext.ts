/**
 * What a stage runner is given for one stage: a log that writes to that stage alone (a line a runner
 * logs after its stage has ended is dropped, not put under the next one), and the run's abort signal,
 * made only if the runner asks for it.
 */
import type { LazyAbort } from "./lazyAbort.ts";
import type { RunInFlight } from "./runInFlight.ts";
import type { StageSpec } from "../store/stages.ts";
import type { StageLog } from "./stageLog.ts";
import type { StageContext } from "./stageRunner.ts";

/** The context of `run`'s stage `index` (`spec`), its lines printed too, prefixed, when the pool prints. */
export function stageContext(run: RunInFlight, index: number, spec: StageSpec): StageRunContext {
  return new StageRunContext(run.abort, run.log, index, run.print && stagePrinter(run, spec));
}

/**
 * The progress lines of `run`'s stage `spec`. Made apart from stageContext: a closure there would have
 * every call of it allocate a context for the closure's variables, printing or not.
 */
const stagePrinter =
  (run: RunInFlight, spec: StageSpec) =>
  (line: string): void =>
    run.print!(`${run.tag} ${spec.kind}: ${line}`);

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
