/**
 * The in-memory store's records besides its runs (lib/runTable.ts): a pipeline, its lane of runs,
 * and the claim a worker holds.
 */
import { pendingStages, stageSpecs, type StageSpec } from "../stages.ts";
import { Fifo } from "./sorted.ts";
import type { Pipeline, StageRun, StagesSpec } from "../../api/schemas.ts";
import type { Claim, ClaimedRun } from "../store.ts";

/**
 * A pipeline's runs (rows of the store's RunTable): every one in trigger order, the queued ones, the
 * running one and its claim. A pipeline runs one run at a time, so the claim lives here rather than on
 * every run. The store reaches the lane through the pipeline's record or a run's row, so that a
 * trigger, claim or finish looks nothing up by id. Kept after its pipeline is deleted: the runs stay
 * listable.
 */
export class Lane {
  readonly history: number[] = [];
  /** The queued runs' rows, oldest first. */
  private queue = new Fifo<number>();
  /**
   * Their ids as text, in step with `queue`: a claim hands on the string its trigger made for its reply
   * rather than write another (a UUID's text took 1,050 machine instructions, counted with valgrind).
   */
  private queuedIds = new Fifo<string>();
  /** The running run's row; -1 when none runs. */
  running = -1;
  /** Fencing token of the running run's claim. */
  token: string | undefined = undefined;
  /** Told if the running run's claim is lost (the run cancelled under its worker). */
  onLost: ((reason: string) => void)[] | undefined = undefined;

  /** How many runs are queued. */
  get queued(): number {
    return this.queue.size;
  }

  /** The oldest queued run's row, if any. */
  next(): number | undefined {
    return this.queue.peek();
  }

  /** Queues `row`, its id `id`, after the others. */
  enqueue(row: number, id: string): void {
    this.queue.push(row);
    this.queuedIds.push(id);
  }

  /** Takes the oldest queued run off the queue: its id. */
  dequeue(): string {
    this.queue.shift();
    return this.queuedIds.shift()!;
  }

  /** Queues `row` (a handed-back run, the oldest when it was claimed) before the others. */
  requeueFirst(row: number, id: string): void {
    const rows = [...this.queue];
    const ids = [...this.queuedIds];
    this.queue = new Fifo();
    this.queuedIds = new Fifo();
    this.enqueue(row, id);
    for (let i = 0; i < rows.length; i++) this.enqueue(rows[i]!, ids[i]!);
  }

  /** Empties the queue: the rows it held, oldest first. */
  drain(): number[] {
    const rows = [...this.queue];
    this.queue = new Fifo();
    this.queuedIds = new Fifo();
    return rows;
  }

  /** Whether `row` runs under the claim `token`. */
  holds(row: number, token: string): boolean {
    return this.running === row && this.token === token;
  }

  /** Nothing runs any more (its run ended or was handed back); returns the claim's watchers. */
  free(): ((reason: string) => void)[] | undefined {
    const watchers = this.onLost;
    this.running = -1;
    this.token = undefined;
    this.onLost = undefined;
    return watchers;
  }
}

/**
 * A pipeline as one create or update left it: what the runs triggered from it keep (its id, its lane,
 * its stages), and what is derived from its stages, made once here rather than looked up per run.
 */
export class PipelineVersion {
  /** In execution order (see stageSpecs). */
  readonly specs: readonly StageSpec[];
  /**
   * The stages of a run never claimed, as every read of one shows them: made once and frozen, since a
   * trigger's reply is such a read (and most of a trigger's garbage when made afresh).
   */
  readonly untouched: readonly StageRun[];

  constructor(
    readonly pipelineId: string,
    readonly lane: Lane,
    readonly stages: StagesSpec,
  ) {
    this.specs = stageSpecs(stages);
    this.untouched = Object.freeze(pendingStages(stages).map((s) => Object.freeze({ ...s, logs: Object.freeze([]) as unknown as string[] })));
  }
}

/** A pipeline in the in-memory store. */
export interface PipelineRecord {
  /** Its place in creation order. */
  seq: number;
  pipeline: Pipeline;
  /** What its runs are triggered from; replaced by each update. */
  version: PipelineVersion;
}

/** A claim made by a MemoryStore: it carries its run's row, for that store alone. */
export class MemoryClaim implements Claim {
  readonly #row: number;
  readonly #store: object;

  constructor(
    readonly run: ClaimedRun,
    readonly spec: StagesSpec,
    readonly workerId: string,
    readonly token: string,
    row: number,
    store: object,
  ) {
    this.#row = row;
    this.#store = store;
  }

  /** The row behind `claim` if `store` made it; undefined for any other claim (look the run up by id). */
  static rowOf(claim: Claim, store: object): number | undefined {
    return claim instanceof MemoryClaim && claim.#store === store ? claim.#row : undefined;
  }
}
