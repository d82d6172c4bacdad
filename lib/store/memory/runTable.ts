/**
 * The in-memory store's runs, kept as a table: one row per run, in trigger order, and one column per
 * field. Ids are their 16 bytes, statuses small numbers and timestamps epoch milliseconds, in typed
 * arrays, in pages of rows (lib/runPage.ts); log lines are in a LineStore (lib/lineStore.ts). A run
 * thus holds no object of its own on the heap, where a record of objects held thirteen: the garbage
 * collector, which copies every young object that survives and then marks it on every full collection,
 * has nothing of it to do (with the records, keeping the runs cost more than running them: measured
 * with 0-ms stages and one worker, 7.7 to 8.2 us a run, 2.6 to 2.9 us with nothing kept; with 500,000
 * runs kept, a full collection took 102 ms with an id string and an array of lines per run, 32 ms
 * without). Ids and timestamps are written out as text when a run is read, as a database keeps them.
 *
 * Stage semantics (lib/pg/stagesSql.ts has their SQL twins): a new status stamps started_at (running)
 * or finished_at (an end state), and nothing when the stage already had it; lines are appended; when a
 * run ends, stages that never started end `skipped`, and a running one `failed` (the run failed) or
 * `cancelled`.
 */
import { iso } from "../../clock.ts";
import { LineStore } from "./lineStore.ts";
import type { Lane, PipelineVersion } from "./memoryRecords.ts";
import { timeOrderedBytes, uuidBytes, uuidText } from "../../ids.ts";
import { ID_BYTES, PAGE_BITS, PAGE_MASK, PAGE_ROWS, RunPage } from "./runPage.ts";
import { RUN_STATUSES, STAGE_KINDS, STAGE_STATUSES, type Run, type RunStatus, type StageRun, type StageStatus } from "../../api/schemas.ts";
import type { ClaimedRun } from "../store.ts";

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
  /** Row r is row r & PAGE_MASK of page r >>> PAGE_BITS. */
  private readonly pages: RunPage[] = [];
  /** By row * MAX_STAGES + stage. */
  private readonly lines = new LineStore();

  /**
   * A queued run with every stage pending, its id `id` or else a new timeOrderedId; returns its row.
   * Throws a TypeError, adding nothing, for an id that is not a UUID.
   */
  add(id: string | undefined, version: PipelineVersion, gitRef: string, now: number): number {
    const row = this.size;
    if (row >>> PAGE_BITS === this.pages.length) {
      this.pages.push(new RunPage(MAX_STAGES, PENDING));
      this.lines.addSlots(PAGE_ROWS * MAX_STAGES);
    }
    const page = this.pages[row >>> PAGE_BITS]!;
    const r = row & PAGE_MASK;
    // Made in place: as text, it was made, then read back.
    if (id === undefined) timeOrderedBytes(page.idBytes, r * ID_BYTES, now);
    else if (!uuidBytes(id, page.idBytes, r * ID_BYTES)) throw new TypeError(`run id ${JSON.stringify(id)} is not a lowercase UUID`);
    this.size++;
    page.version[r] = version;
    page.gitRef[r] = gitRef;
    page.error[r] = null;
    page.status[r] = QUEUED;
    page.stageCount[r] = version.specs.length;
    page.createdAt[r] = page.updatedAt[r] = now;
    // The rest of the row is as a new page has it: NaN times, pending stages, no lines.
    return row;
  }

  idOf(row: number): string {
    return uuidText(this.page(row).idBytes, (row & PAGE_MASK) * ID_BYTES);
  }

  /** Compares row `row`'s id with the ID_BYTES at `at` of `bytes`, as their text compares: below 0, 0 or above. */
  compareId(row: number, bytes: Uint8Array, at: number): number {
    const ids = this.page(row).idBytes;
    for (let i = 0, r = (row & PAGE_MASK) * ID_BYTES; i < ID_BYTES; i++) {
      const d = ids[r + i]! - bytes[at + i]!;
      if (d !== 0) return d;
    }
    return 0;
  }

  /** Compares the ids of rows `a` and `b`. */
  compareIds(a: number, b: number): number {
    return this.compareId(a, this.page(b).idBytes, (b & PAGE_MASK) * ID_BYTES);
  }

  /** The pipeline as it was when the run was triggered. */
  versionOf(row: number): PipelineVersion {
    return this.page(row).version[row & PAGE_MASK]!;
  }

  /** The lane of the run's pipeline. */
  laneOf(row: number): Lane {
    return this.versionOf(row).lane;
  }

  runStatus(row: number): RunStatus {
    return RUN_STATUSES[this.page(row).status[row & PAGE_MASK]!]!;
  }

  /** Marks a queued run running, and its first stage with it. */
  start(row: number, now: number): void {
    const page = this.page(row);
    const r = row & PAGE_MASK;
    page.status[r] = RUNNING;
    page.startedAt[r] = page.updatedAt[r] = now;
    if (page.stageCount[r]) setStageStatus(page, r * MAX_STAGES, STAGE_RUNNING, now);
  }

  /**
   * Stage `index` gets `count` more lines from `lines`, then `status` if given, and the next stage
   * starts if asked: a StagePatch. A RangeError, changing nothing, for a stage the run lacks. Does not
   * touch updated_at.
   */
  patchStage(row: number, index: number, status: StageStatus | undefined, lines: readonly string[], count: number, startNext: boolean, now: number): void {
    const page = this.page(row);
    const r = row & PAGE_MASK;
    const stages = page.stageCount[r]!;
    const has = Number.isInteger(index) && index >= 0 && index < stages;
    if (!has || (startNext && index + 1 >= stages)) throw new RangeError(`run ${this.idOf(row)} has no stage ${has ? index + 1 : index}`);
    const at = r * MAX_STAGES + index;
    this.lines.append(row * MAX_STAGES + index, lines, count);
    if (status) setStageStatus(page, at, stageCode[status], now);
    if (startNext) setStageStatus(page, at + 1, STAGE_RUNNING, now);
  }

  touch(row: number, now: number): void {
    this.page(row).updatedAt[row & PAGE_MASK] = now;
  }

  /** Ends a queued or running run: its status, error and end time, and its stages closed. */
  end(row: number, status: RunStatus, error: string | null, now: number): void {
    const page = this.page(row);
    const r = row & PAGE_MASK;
    page.status[r] = runCode[status];
    page.error[r] = error;
    page.finishedAt[r] = page.updatedAt[r] = now;
    const closedRunning = status === "failed" ? stageCode.failed : stageCode.cancelled;
    const { stageStatus } = page;
    for (let at = r * MAX_STAGES, end = at + page.stageCount[r]!; at < end; at++) {
      const s = stageStatus[at]!;
      if (s === PENDING) stageStatus[at] = stageCode.skipped;
      else if (s === STAGE_RUNNING) {
        stageStatus[at] = closedRunning;
        page.stageFinished[at] = now;
      }
    }
  }

  /** A handed-back run: queued again, its stages pending, the first one's log saying why. */
  release(row: number, reason: string, now: number): void {
    const page = this.page(row);
    const r = row & PAGE_MASK;
    page.status[r] = QUEUED;
    page.startedAt[r] = NaN;
    page.updatedAt[r] = now;
    const count = page.stageCount[r]!;
    for (let i = 0; i < count; i++) {
      const at = r * MAX_STAGES + i;
      page.stageStatus[at] = PENDING;
      page.stageStarted[at] = page.stageFinished[at] = NaN;
      this.lines.clear(row * MAX_STAGES + i);
    }
    if (count) this.lines.append(row * MAX_STAGES, [`previous attempt handed back to the queue: ${reason}`], 1);
  }

  /** What a worker needs of a claimed run, its id `id` (as its trigger wrote it). */
  claimed(row: number, id: string): ClaimedRun {
    const r = row & PAGE_MASK;
    const page = this.page(row);
    return { id, pipeline_id: page.version[r]!.pipelineId, git_ref: page.gitRef[r]! };
  }

  /**
   * What toRun shows of a run just added, made without reading most of its columns back: a trigger's
   * reply (made with toRun, the reply took 1,300 more machine instructions a run, counted with valgrind).
   */
  added(row: number): Run {
    const page = this.page(row);
    const r = row & PAGE_MASK;
    const id = uuidText(page.idBytes, r * ID_BYTES);
    const created = iso(page.createdAt[r]!);
    const version = page.version[r]!;
    const stages = version.untouched as StageRun[];
    return { id, pipeline_id: version.pipelineId, git_ref: page.gitRef[r]!, status: "queued", stages, error: null, created_at: created, started_at: null, finished_at: null, updated_at: created };
  }

  /** The run as the wire has it: a snapshot that later writes do not change. */
  toRun(row: number): Run {
    const page = this.page(row);
    const r = row & PAGE_MASK;
    return {
      id: uuidText(page.idBytes, r * ID_BYTES),
      pipeline_id: page.version[r]!.pipelineId,
      git_ref: page.gitRef[r]!,
      status: RUN_STATUSES[page.status[r]!]!,
      stages: this.stages(page, row),
      error: page.error[r]!,
      created_at: iso(page.createdAt[r]!),
      started_at: isoOrNull(page.startedAt[r]!),
      finished_at: isoOrNull(page.finishedAt[r]!),
      updated_at: iso(page.updatedAt[r]!),
    };
  }

  private stages(page: RunPage, row: number): StageRun[] {
    const r = row & PAGE_MASK;
    const count = page.stageCount[r]!;
    const { specs, untouched } = page.version[r]!;
    if (Number.isNaN(page.startedAt[r]!) && this.untouched(page, row, count)) return untouched as StageRun[];
    const stages: StageRun[] = [];
    for (let i = 0; i < count; i++) {
      const at = r * MAX_STAGES + i;
      stages.push({
        name: specs[i]!.kind,
        status: STAGE_STATUSES[page.stageStatus[at]!]!,
        started_at: isoOrNull(page.stageStarted[at]!),
        finished_at: isoOrNull(page.stageFinished[at]!),
        logs: this.lines.read(row * MAX_STAGES + i),
      });
    }
    return stages;
  }

  /** Whether the row's `count` stages are all pending and without lines. */
  private untouched(page: RunPage, row: number, count: number): boolean {
    for (let i = 0; i < count; i++)
      if (page.stageStatus[(row & PAGE_MASK) * MAX_STAGES + i] !== PENDING || this.lines.has(row * MAX_STAGES + i)) return false;
    return true;
  }

  private page(row: number): RunPage {
    return this.pages[row >>> PAGE_BITS]!;
  }
}

function setStageStatus(page: RunPage, at: number, status: number, now: number): void {
  if (page.stageStatus[at] === status) return;
  page.stageStatus[at] = status;
  if (status === STAGE_RUNNING) page.stageStarted[at] = now;
  else if (status !== PENDING) page.stageFinished[at] = now;
}

function codes<S extends string>(values: readonly S[]): Record<S, number> {
  return Object.fromEntries(values.map((v, i) => [v, i])) as Record<S, number>;
}

const isoOrNull = (ms: number): string | null => (Number.isNaN(ms) ? null : iso(ms));
