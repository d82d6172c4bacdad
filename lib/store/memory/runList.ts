/**
 * The in-memory store's runs: by id, and in trigger order for listing newest first; at most `retain`
 * finished ones, the first to finish dropped first. A dropped run is let go at once: it leaves the Map,
 * and its slot in the ordered list is emptied (found by its seq, a binary search). The emptied slots are
 * taken out when they are more than half of the list, so that a drop costs O(log n) on average rather
 * than a splice, and the list never holds a dropped run, only its seq.
 */
import type { Run } from "../../api/schemas.ts";
import { Fifo } from "./fifo.ts";
import { newRecord, type RunRecord, type RunSource } from "./runRecord.ts";

export class RunList {
  private readonly byId = new Map<string, RunRecord>();
  /** Ascending seq, a run's seq at the same index as its record in `records`. */
  private seqs: number[] = [];
  /** The records in trigger order; undefined where a run was dropped. */
  private records: (RunRecord | undefined)[] = [];
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
    this.seqs.push(record.seq);
    this.records.push(record);
    return record;
  }

  get(id: string): RunRecord | undefined {
    return this.byId.get(id);
  }

  delete(id: string): void {
    const record = this.byId.get(id);
    if (!record) return;
    this.byId.delete(id);
    this.records[this.below(record.seq + 1) - 1] = undefined;
    if (this.records.length > 2 * this.byId.size + 64) this.compact();
  }

  /** The runs with a seq below `before`, newest first. */
  *newestFirst(before: number): Generator<RunRecord> {
    for (let i = this.below(before) - 1; i >= 0; i--) {
      const record = this.records[i];
      if (record) yield record;
    }
  }

  /** How many runs in the list have a seq below `seq`. */
  private below(seq: number): number {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Takes the dropped runs' slots out. */
  private compact(): void {
    const records = this.records.filter((r): r is RunRecord => r !== undefined);
    this.records = records;
    this.seqs = records.map((r) => r.seq);
  }
}
