/**
 * The in-memory store's runs, kept as a table: one row per run, in trigger order, and one column per
 * field. Statuses are small numbers and timestamps epoch milliseconds, in typed arrays; a run's log
 * lines are one array, stage after stage. A run thus holds three objects on the heap (its id and its
 * log lines' array and store) where a record of objects held thirteen, and the garbage collector,
 * which copies every young object that survives and then marks it on every full collection, has
 * that much less to do: with the records, keeping the runs cost more than running them (measured with
 * 0-ms stages and one worker: 7.7 to 8.2 us a run, 2.6 to 2.9 us with nothing kept). Timestamps are
 * written out in ISO 8601 when a run is read, as a database keeps them as numbers.
 *
 * Stage semantics (lib/pg/stagesSql.ts has their SQL twins): a new status stamps started_at (running)
 * or finished_at (an end state), and nothing when the stage already had it; lines are appended; when a
 * run ends, stages that never started end `skipped`, and a running one `failed` (the run failed) or
 * `cancelled`.
 */
import { iso } from "./clock.ts";
import type { Lane, PipelineVersion } from "./memoryRecords.ts";
import { RUN_STATUSES, STAGE_KINDS, STAGE_STATUSES, type Run, type RunStatus, type StageRun, type StageStatus } from "./schemas.ts";
import type { ClaimedRun } from "./store.ts";

/** A pipeline has at most one stage of each kind. */
const MAX_STAGES = STAGE_KINDS.length;

const runCode = codes(RUN_STATUSES);
const stageCode = codes(STAGE_STATUSES);
const QUEUED = runCode.queued;
const RUNNING = runCode.running;
const PENDING = stageCode.pending;
const STAGE_RUNNING = stageCode.running;

export class RunTable {
  /** Rows in use: row r is the r-th run triggered. */
  size = 0;
  /**
   * The columns of objects grow by a write at their end, row by row: Array#push went through a builtin
   * here, and deoptimized `add` once for each new table (--trace-deopt).
   */
  readonly id: string[] = [];
  /** The pipeline (id, lane, stages) when the run was triggered. */
  readonly version: PipelineVersion[] = [];
  readonly gitRef: string[] = [];
  readonly error: (string | null)[] = [];
  /**
   * Every stage's log lines, stage after stage, then room for more (as many as lineCount says are
   * lines); undefined while there are none.
   */
  private readonly lines: (string[] | undefined)[] = [];
  private capacity = 0;
  private status = new Uint8Array(0);
  private stageCount = new Uint8Array(0);
  /** Epoch ms; NaN for null. */
  private createdAt = new Float64Array(0);
  private startedAt = new Float64Array(0);
  private finishedAt = new Float64Array(0);
  private updatedAt = new Float64Array(0);
  /** By row * MAX_STAGES + stage. */
  private stageStatus = new Uint8Array(0);
  private stageStarted = new Float64Array(0);
  private stageFinished = new Float64Array(0);
  private lineCount = new Uint32Array(0);

  /** A queued run with every stage pending; returns its row. */
  add(id: string, version: PipelineVersion, gitRef: string, now: number): number {
    const row = this.size;
    if (row === this.capacity) this.grow();
    this.size++;
    this.id[row] = id;
    this.version[row] = version;
    this.gitRef[row] = gitRef;
    this.error[row] = null;
    this.lines[row] = undefined;
    this.status[row] = QUEUED;
    this.stageCount[row] = version.specs.length;
    this.createdAt[row] = this.updatedAt[row] = now;
    // The rest of the row is as a new row is made: no error, no lines, NaN times, pending stages.
    return row;
  }

  /** The lane of the run's pipeline. */
  laneOf(row: number): Lane {
    return this.version[row]!.lane;
  }

  runStatus(row: number): RunStatus {
    return RUN_STATUSES[this.status[row]!]!;
  }

  /** Marks a queued run running, and its first stage with it. */
  start(row: number, now: number): void {
    this.status[row] = RUNNING;
    this.startedAt[row] = this.updatedAt[row] = now;
    if (this.stageCount[row]) this.setStageStatus(row * MAX_STAGES, STAGE_RUNNING, now);
  }

  /**
   * Stage `index` gets `count` more lines from `lines`, then `status` if given, and the next stage
   * starts if asked: a StagePatch. A RangeError, changing nothing, for a stage the run lacks. Does not
   * touch updated_at.
   */
  patchStage(row: number, index: number, status: StageStatus | undefined, lines: readonly string[], count: number, startNext: boolean, now: number): void {
    const stages = this.stageCount[row]!;
    const has = Number.isInteger(index) && index >= 0 && index < stages;
    if (!has || (startNext && index + 1 >= stages)) throw new RangeError(`run ${this.id[row]} has no stage ${has ? index + 1 : index}`);
    const at = row * MAX_STAGES + index;
    if (count) this.appendLines(row, index, lines, count);
    if (status) this.setStageStatus(at, stageCode[status], now);
    if (startNext) this.setStageStatus(at + 1, STAGE_RUNNING, now);
  }

  touch(row: number, now: number): void {
    this.updatedAt[row] = now;
  }

  /** Ends a queued or running run: its status, error and end time, and its stages closed. */
  end(row: number, status: RunStatus, error: string | null, now: number): void {
    this.status[row] = runCode[status];
    this.error[row] = error;
    this.finishedAt[row] = this.updatedAt[row] = now;
    const closedRunning = status === "failed" ? stageCode.failed : stageCode.cancelled;
    for (let at = row * MAX_STAGES, end = at + this.stageCount[row]!; at < end; at++) {
      const s = this.stageStatus[at]!;
      if (s === PENDING) this.stageStatus[at] = stageCode.skipped;
      else if (s === STAGE_RUNNING) {
        this.stageStatus[at] = closedRunning;
        this.stageFinished[at] = now;
      }
    }
  }

  /** A handed-back run: queued again, its stages pending, the first one's log saying why. */
  release(row: number, reason: string, now: number): void {
    this.status[row] = QUEUED;
    this.startedAt[row] = NaN;
    this.updatedAt[row] = now;
    const count = this.stageCount[row]!;
    for (let i = 0, at = row * MAX_STAGES; i < count; i++, at++) {
      this.stageStatus[at] = PENDING;
      this.stageStarted[at] = this.stageFinished[at] = NaN;
      this.lineCount[at] = 0;
    }
    this.lines[row] = undefined;
    if (count) this.appendLines(row, 0, [`previous attempt handed back to the queue: ${reason}`], 1);
  }

  /** What a worker needs of a claimed run. */
  claimed(row: number): ClaimedRun {
    return { id: this.id[row]!, pipeline_id: this.version[row]!.pipelineId, git_ref: this.gitRef[row]! };
  }

  /**
   * What toRun shows of a run just added, made without reading its columns back: a trigger's reply
   * (made with toRun, the reply took 1,300 more machine instructions a run, counted with valgrind).
   */
  added(row: number): Run {
    const created = iso(this.createdAt[row]!);
    const version = this.version[row]!;
    const stages = version.untouched as StageRun[];
    return { id: this.id[row]!, pipeline_id: version.pipelineId, git_ref: this.gitRef[row]!, status: "queued", stages, error: null, created_at: created, started_at: null, finished_at: null, updated_at: created };
  }

  /** The run as the wire has it: a snapshot that later writes do not change. */
  toRun(row: number): Run {
    return {
      id: this.id[row]!,
      pipeline_id: this.version[row]!.pipelineId,
      git_ref: this.gitRef[row]!,
      status: RUN_STATUSES[this.status[row]!]!,
      stages: this.stages(row),
      error: this.error[row]!,
      created_at: iso(this.createdAt[row]!),
      started_at: isoOrNull(this.startedAt[row]!),
      finished_at: isoOrNull(this.finishedAt[row]!),
      updated_at: iso(this.updatedAt[row]!),
    };
  }

  private stages(row: number): StageRun[] {
    const lines = this.lines[row];
    const base = row * MAX_STAGES;
    const count = this.stageCount[row]!;
    const { specs, untouched } = this.version[row]!;
    if (!lines && Number.isNaN(this.startedAt[row]!) && this.allPending(base, count)) return untouched as StageRun[];
    const stages: StageRun[] = [];
    for (let i = 0, from = 0; i < count; i++) {
      const at = base + i;
      const to = from + this.lineCount[at]!;
      stages.push({
        name: specs[i]!.kind,
        status: STAGE_STATUSES[this.stageStatus[at]!]!,
        started_at: isoOrNull(this.stageStarted[at]!),
        finished_at: isoOrNull(this.stageFinished[at]!),
        logs: lines ? lines.slice(from, to) : [],
      });
      from = to;
    }
    return stages;
  }

  private allPending(base: number, count: number): boolean {
    for (let at = base; at < base + count; at++) if (this.stageStatus[at] !== PENDING) return false;
    return true;
  }

  private setStageStatus(at: number, status: number, now: number): void {
    if (this.stageStatus[at] === status) return;
    this.stageStatus[at] = status;
    if (status === STAGE_RUNNING) this.stageStarted[at] = now;
    else if (status !== PENDING) this.stageFinished[at] = now;
  }

  /** Appends `added`'s first `n` to stage `index`'s lines, which may be followed by later stages' (a release's). */
  private appendLines(row: number, index: number, added: readonly string[], n: number): void {
    const base = row * MAX_STAGES;
    // Where they go (after the lines of stages up to `index`), and how many lines there are.
    let at = 0;
    let total = 0;
    for (let i = 0, count = this.stageCount[row]!; i < count; i++) {
      const stageLines = this.lineCount[base + i]!;
      total += stageLines;
      if (i <= index) at += stageLines;
    }
    const lines = this.room(row, at, total, n);
    for (let i = 0; i < n; i++) lines[at + i] = added[i]!;
    this.lineCount[base + index]! += n;
  }

  /**
   * The row's array of lines with room for `n` more at `at`, the lines from there on (of `total`)
   * moved up. An array is made with room to spare, twice what it must hold and at least eight lines
   * (a simulated stage logs two), and replaced when full: each line is then copied a few times at most, where an
   * array made to measure for each write was copied whole with every stage.
   */
  private room(row: number, at: number, total: number, n: number): string[] {
    let lines = this.lines[row];
    if (!lines || lines.length < total + n) {
      const larger = emptyLines(2 * (total + n));
      for (let i = 0; i < total; i++) larger[i] = lines![i]!;
      this.lines[row] = lines = larger;
    }
    for (let i = total - 1; i >= at; i--) lines[i + n] = lines[i]!;
    return lines;
  }

  private grow(): void {
    const capacity = Math.max(1024, this.capacity * 2);
    const stageSlots = capacity * MAX_STAGES;
    this.status = grown(this.status, new Uint8Array(capacity), 0);
    this.stageCount = grown(this.stageCount, new Uint8Array(capacity), 0);
    this.createdAt = grown(this.createdAt, new Float64Array(capacity), 0);
    this.startedAt = grown(this.startedAt, new Float64Array(capacity), NaN);
    this.finishedAt = grown(this.finishedAt, new Float64Array(capacity), NaN);
    this.updatedAt = grown(this.updatedAt, new Float64Array(capacity), 0);
    this.stageStatus = grown(this.stageStatus, new Uint8Array(stageSlots), PENDING);
    this.stageStarted = grown(this.stageStarted, new Float64Array(stageSlots), NaN);
    this.stageFinished = grown(this.stageFinished, new Float64Array(stageSlots), NaN);
    this.lineCount = grown(this.lineCount, new Uint32Array(stageSlots), 0);
    this.capacity = capacity;
  }
}

/**
 * An array of at least `size` (and eight) empty lines, packed with strings from the start: one made
 * with `new Array(n)` changed its kind of elements with its first line, once a run (its copy loop was
 * 40 machine instructions a line, counted with valgrind).
 */
function emptyLines(size: number): string[] {
  const lines = ["", "", "", "", "", "", "", ""];
  while (lines.length < size) lines.push("");
  return lines;
}

/** `larger` with `old`'s values, then `filler` (a new typed array holds zeros: filled only if not 0). */
function grown<T extends Uint8Array | Uint32Array | Float64Array>(old: T, larger: T, filler: number): T {
  larger.set(old as never);
  if (filler !== 0) larger.fill(filler, old.length);
  return larger;
}

function codes<S extends string>(values: readonly S[]): Record<S, number> {
  return Object.fromEntries(values.map((v, i) => [v, i])) as Record<S, number>;
}

const isoOrNull = (ms: number): string | null => (Number.isNaN(ms) ? null : iso(ms));
