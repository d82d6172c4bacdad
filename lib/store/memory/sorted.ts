/**
 * The two small ordered structures the in-memory queue needs. A FIFO with head and tail indexes, because
 * Array#shift is O(n) and one pipeline can hold thousands of queued runs; and binary search over
 * arrays kept sorted by a number.
 */

export class Fifo<T> implements Iterable<T> {
  /** The items are those from `head` up to `tail`; the array's room beyond `tail` is kept for later ones. */
  private items: (T | undefined)[] = [];
  private head = 0;
  private tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  push(item: T): void {
    const { items, tail } = this;
    if (tail < items.length) items[tail] = item;
    else items.push(item);
    this.tail = tail + 1;
  }

  peek(): T | undefined {
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    const { items, head, tail } = this;
    if (head === tail) return undefined;
    const item = items[head];
    items[head] = undefined;
    if (head + 1 === tail) {
      // Emptied: the next item goes to the front again. A queue whose items are taken as they come
      // thus stays in its first slot, where it had grown by one slot an item until compacted. (A
      // burst's room is let go.)
      this.head = this.tail = 0;
      if (items.length > KEPT_ROOM) this.items = [];
    } else if (head >= 1024 && head * 2 >= tail) {
      // The consumed prefix dominates: keep only the items, so memory stays proportional to size (a queue
      // that a burst grew and that never empties gives the burst's room back).
      this.items = items.slice(head + 1, tail);
      this.head = 0;
      this.tail = tail - head - 1;
    } else this.head = head + 1;
    return item;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.tail; i++) yield this.items[i] as T;
  }
}

/** Slots an emptied Fifo keeps. */
const KEPT_ROOM = 64;

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
