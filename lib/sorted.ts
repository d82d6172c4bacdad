/**
 * The two small ordered structures the in-memory queue needs. A FIFO with a head index, because
 * Array#shift is O(n) and one pipeline can hold thousands of queued runs; and binary search over
 * arrays kept sorted by a number.
 */

export class Fifo<T> implements Iterable<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the consumed prefix dominates, so memory stays proportional to size.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

/** Index of the first element for which `isAtOrAfter` holds, in an array partitioned by it. */
export function lowerBound<T>(items: readonly T[], isAtOrAfter: (item: T) => boolean): number {
  return firstIndex(items.length, (i) => isAtOrAfter(items[i]!));
}

/** The first of the indexes 0 to `end` - 1 for which `isAtOrAfter` holds (`end` if none), as lowerBound's. */
export function firstIndex(end: number, isAtOrAfter: (index: number) => boolean): number {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (isAtOrAfter(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Inserts `item` into `items` (sorted ascending by `key`), after any equal keys. Most items go last (a
 * sleep's deadline, a run's trigger order): that case is a push.
 */
export function insertSorted<T>(items: T[], item: T, key: (item: T) => number): void {
  const k = key(item);
  // Never items[-1]: reading an array at a negative index is a property lookup by name, which turns
  // the read megamorphic and, while the array is empty, goes into the runtime (670 machine
  // instructions a trigger, counted with valgrind, when the ready list was empty).
  const n = items.length;
  if (n === 0 || key(items[n - 1]!) <= k) items.push(item);
  else items.splice(lowerBound(items, (x) => key(x) > k), 0, item);
}
