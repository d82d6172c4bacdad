/**
 * The in-memory store's index of its runs by id, over the RunTable's id column: the rows of the runs
 * whose id is above every earlier run's (all of them, with timeOrderedId), in that order, for binary
 * search; the rest in a Map. With a Map of every run, a run with 0-ms stages took 22-24% more time
 * (the insert was 7% of the profile, the rest collection).
 */
import { lowerBound } from "./sorted.ts";

export class RunIds {
  private readonly ordered: number[] = [];
  private readonly unordered = new Map<string, number>();

  /** `ids` is the table's id column, by row. */
  constructor(private readonly ids: readonly string[]) {}

  /** Indexes `row`, whose id the column holds. */
  add(row: number): void {
    const { ordered, ids } = this;
    const id = ids[row]!;
    const count = ordered.length; // never ordered[-1] (see insertSorted)
    if (count === 0 || id > ids[ordered[count - 1]!]!) ordered.push(row);
    else this.unordered.set(id, row);
  }

  rowOf(id: string): number | undefined {
    const { ordered, ids } = this;
    const at = lowerBound(ordered, (row) => ids[row]! >= id);
    return at < ordered.length && ids[ordered[at]!] === id ? ordered[at] : this.unordered.get(id);
  }
}
