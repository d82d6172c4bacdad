/**
 * A page of the in-memory store's RunTable: the columns of PAGE_ROWS runs, its numbers in one buffer.
 * The table adds pages as it fills and never copies one. Columns that grew by doubling were copied
 * into fresh memory at every doubling, and fresh memory is what a kept run costs most on these
 * machines: the first write to a page of it took about 11 us a 4 KB page (a 64 MB array filled in 184
 * ms, then again in 2.4), and a table that grew to 32,768 rows took 9 ms of a 73-ms round of 20,000
 * runs to allocate, copy and fill (measured in the queue bench, 8 workers, 64 pipelines).
 */
import type { PipelineVersion } from "./memoryRecords.ts";

export const PAGE_BITS = 10;
export const PAGE_ROWS = 1 << PAGE_BITS;
export const PAGE_MASK = PAGE_ROWS - 1;
/** Bytes of a run's id (a UUID). */
export const ID_BYTES = 16;

export class RunPage {
  /** The pipeline (id, lane, stages) when the run was triggered. */
  readonly version = new Array<PipelineVersion>(PAGE_ROWS);
  readonly gitRef = new Array<string>(PAGE_ROWS);
  readonly error = new Array<string | null>(PAGE_ROWS);
  /** Epoch ms; NaN for null. */
  readonly createdAt: Float64Array;
  readonly startedAt: Float64Array;
  readonly finishedAt: Float64Array;
  readonly updatedAt: Float64Array;
  /** By row * stages per run + stage, as are the stage columns below. */
  readonly stageStarted: Float64Array;
  readonly stageFinished: Float64Array;
  /** ID_BYTES a row. */
  readonly idBytes: Uint8Array;
  readonly status: Uint8Array;
  readonly stageCount: Uint8Array;
  readonly stageStatus: Uint8Array;

  /** Rows with room for `stagesPerRun` stages, each `pending` (a stage status's code). */
  constructor(stagesPerRun: number, pending: number) {
    const slots = PAGE_ROWS * stagesPerRun;
    const buffer = new ArrayBuffer(8 * (4 * PAGE_ROWS + 2 * slots) + (ID_BYTES + 2) * PAGE_ROWS + slots);
    let at = 0;
    const float64 = (n: number, filler: number) => {
      const column = new Float64Array(buffer, at, n);
      at += 8 * n;
      return filler === 0 ? column : column.fill(filler);
    };
    const bytes = (n: number, filler: number) => {
      const column = new Uint8Array(buffer, at, n);
      at += n;
      return filler === 0 ? column : column.fill(filler);
    };
    this.createdAt = float64(PAGE_ROWS, 0);
    this.startedAt = float64(PAGE_ROWS, NaN);
    this.finishedAt = float64(PAGE_ROWS, NaN);
    this.updatedAt = float64(PAGE_ROWS, 0);
    this.stageStarted = float64(slots, NaN);
    this.stageFinished = float64(slots, NaN);
    this.idBytes = bytes(ID_BYTES * PAGE_ROWS, 0);
    this.status = bytes(PAGE_ROWS, 0);
    this.stageCount = bytes(PAGE_ROWS, 0);
    this.stageStatus = bytes(slots, pending);
  }
}
