/**
 * The in-memory store's index of its runs by id, over the RunTable's ids. While every run's id is above
 * the one before (always, with timeOrderedId), the table's rows are themselves in id order, and a
 * lookup is a binary search over them: no index is kept at all. From the first id that is not, the rows
 * whose id is above every earlier run's are kept in that order for the search, the rest in a Map. (With
 * a Map of every run, a run with 0-ms stages took 22-24% more time: the insert was 7% of the profile,
 * the rest collection.)
 */
import { uuidBytes } from "../../ids.ts";
import { ID_BYTES } from "./runPage.ts";
import type { RunTable } from "./runTable.ts";
import { firstIndex } from "./sorted.ts";

export class RunIds {
  /** Rows in ascending id order; undefined while that is every row, in row order. */
  private ordered: number[] | undefined = undefined;
  private readonly unordered = new Map<string, number>();
  /** The id looked up, as bytes. */
  private readonly sought = new Uint8Array(ID_BYTES);

  constructor(private readonly table: RunTable) {}

  /**
   * Indexes `row` (the next row), whose id the table holds; `made` when the table made that id, which
   * is then above every earlier one (timeOrderedBytes only goes up) and not compared (358 machine
   * instructions a run, counted with valgrind).
   */
  add(row: number, made: boolean): void {
    const { ordered, table } = this;
    if (made && !ordered) return;
    // The row with the greatest id so far; never ordered[-1] (see insertSorted): `ordered` is never empty.
    const last = ordered ? ordered[ordered.length - 1]! : row - 1;
    if (last < 0 || table.compareIds(row, last) > 0) {
      ordered?.push(row);
      return;
    }
    this.ordered ??= Array.from({ length: row }, (_, r) => r);
    this.unordered.set(table.idOf(row), row);
  }

  rowOf(id: string): number | undefined {
    const { ordered, table, sought } = this;
    // Not an id any run can have: none is stored but as a UUID.
    if (!uuidBytes(id, sought, 0)) return undefined;
    const end = ordered ? ordered.length : table.size;
    const rowAt = (i: number): number => (ordered ? ordered[i]! : i);
    const at = firstIndex(end, (i) => table.compareId(rowAt(i), sought, 0) >= 0);
    const row = at < end ? rowAt(at) : -1;
    return row >= 0 && table.compareId(row, sought, 0) === 0 ? row : this.unordered.get(id);
  }
}
