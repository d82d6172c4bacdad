/**
 * The in-memory store's runs: by id, and in trigger order for listing newest first; at most `retain`
 * finished ones, the first to finish dropped first. A dropped run leaves the Map at once and the
 * ordered array when more than half of it is dropped runs, so that a drop costs O(1) on average
 * rather than a splice.
 */
import type { Run } from "../../api/schemas.ts";
import { Fifo } from "./fifo.ts";
import { newRecord, type RunRecord, type RunSource } from "./runRecord.ts";

export class RunList {
  private readonly byId = new Map<string, RunRecord>();
  /** Ascending seq; may still hold dropped runs. */
  private order: RunRecord[] = [];
  private seq = 0;
  /** Finished runs' ids in the order they finished. */
  private readonly ended = new Fifo<string>();

  constructor(private readonly retain: number) {
    if (!Number.isInteger(retain) || retain < 1) throw new RangeError(`retainRuns must be a whole number >= 1, got ${retain}`);
  }

  /** Counts `record` as finished, and drops the first finished runs past the limit. */
  finished(record: RunRecord): void {
    this.ended.push(record.run.id);
    while (this.ended.size > this.retain) this.delete(this.ended.shift()!);
  }

  add(run: Run, source: RunSource): RunRecord {
    const record = newRecord(++this.seq, run, source);
    this.byId.set(run.id, record);
    this.order.push(record);
    return record;
  }

  get(id: string): RunRecord | undefined {
    return this.byId.get(id);
  }

  delete(id: string): void {
    if (!this.byId.delete(id)) return;
    if (this.order.length > 2 * this.byId.size + 64) this.order = this.order.filter((r) => this.byId.get(r.run.id) === r);
  }

  /** The runs with a seq below `before`, newest first. */
  *newestFirst(before: number): Generator<RunRecord> {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid]!.seq < before) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const record = this.order[i]!;
      if (this.byId.get(record.run.id) === record) yield record;
    }
  }
}
