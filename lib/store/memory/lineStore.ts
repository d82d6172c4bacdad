/**
 * The in-memory store's log lines: every stage's lines, of every run, in one shared list (arrays of
 * CHUNK lines each), a stage's lines being the segments of that list its writes appended, chained. A
 * run's lines thus cost it no object of its own, only numbers in pages of them: an array of lines per
 * run was, with the run's id string, most of what a run kept on the heap, and the garbage collector
 * copies every young object that survives twice (within the young generation, then out of it) and
 * marks it ever after. (With 0-ms stages, the queue bench's engine/baseline ratio was 0.19 with both
 * kept as objects and 0.26 with neither kept at all, an experiment: median of three runs each, in turn.)
 *
 * A slot (a run's row * stages per run + the stage) is two numbers. While the stage's lines are one
 * segment of the list, they are that segment: where it starts and its length (a write appends in place
 * when the segment ends where the list does: the stage wrote last). Once another stage has written in
 * between, the slot's lines become a chain of segments, and the slot holds its first segment and its
 * last (a write goes to the end of the chain at once, however long it has grown). Slots are added by
 * the caller, with its rows; nothing is ever copied to grow.
 */

const CHUNK_BITS = 13;
/** Lines per chunk: 8192, a 64 KB array. */
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

/**
 * A slot is [start, length] of its one segment (length 0: no lines), or, chained, [-(first segment +
 * 1), last segment + 1]: 8 bytes a stage (with the chain's links in every slot, 16). A segment is three
 * numbers: where in the list it starts, its length, and the next segment + 1 (0: none).
 */
const START = 0;
const LENGTH = 1;
const NEXT = 2;
const SEGMENT = 3;
const SLOT = 2;

export class LineStore {
  /** Lines in use, over all chunks. */
  private size = 0;
  private readonly chunks: string[][] = [];
  /** By slot * SLOT. */
  private readonly slots = new IntPages();
  private slotCount = 0;
  /** By segment * SEGMENT. */
  private readonly segments = new IntPages();
  private segmentCount = 0;

  /** Adds `n` slots after those there are. */
  addSlots(n: number): void {
    this.slotCount += n;
    this.slots.ensure(SLOT * this.slotCount);
  }

  /** Whether `slot` has any line. */
  has(slot: number): boolean {
    return this.slots.get(SLOT * slot + LENGTH) !== 0;
  }

  /** Appends the first `n` of `lines` to `slot`'s. */
  append(slot: number, lines: readonly string[], n: number): void {
    if (n === 0) return;
    const at = this.size;
    while (this.chunks.length << CHUNK_BITS < at + n) this.chunks.push(emptyChunk());
    const { slots, segments } = this;
    const s = SLOT * slot;
    const start = slots.get(s + START);
    const length = slots.get(s + LENGTH);
    if (length === 0) {
      slots.set(s + START, at);
      slots.set(s + LENGTH, n);
    } else if (start >= 0) {
      if (start + length === at) slots.set(s + LENGTH, length + n);
      else {
        // Another stage wrote since: the slot's segment becomes the first of a chain.
        const first = this.segment(start, length);
        const last = this.segment(at, n);
        segments.set(SEGMENT * first + NEXT, last + 1);
        slots.set(s + START, -(first + 1));
        slots.set(s + LENGTH, last + 1);
      }
    } else {
      const i = SEGMENT * (length - 1);
      const lastLength = segments.get(i + LENGTH);
      if (segments.get(i + START) + lastLength === at) segments.set(i + LENGTH, lastLength + n);
      else {
        const last = this.segment(at, n);
        segments.set(i + NEXT, last + 1);
        slots.set(s + LENGTH, last + 1);
      }
    }
    const { chunks } = this;
    for (let k = 0; k < n; k++) chunks[(at + k) >>> CHUNK_BITS]![(at + k) & CHUNK_MASK] = lines[k]!;
    this.size = at + n;
  }

  /** `slot`'s lines, as a new array. */
  read(slot: number): string[] {
    const lines: string[] = [];
    const start = this.slots.get(SLOT * slot + START);
    if (start >= 0) return this.copy(lines, start, this.slots.get(SLOT * slot + LENGTH));
    for (let next = -start; next !== 0; next = this.segments.get(SEGMENT * (next - 1) + NEXT)) {
      const i = SEGMENT * (next - 1);
      this.copy(lines, this.segments.get(i + START), this.segments.get(i + LENGTH));
    }
    return lines;
  }

  /** Forgets `slot`'s lines (their room in the list is not reused). */
  clear(slot: number): void {
    this.slots.set(SLOT * slot + START, 0);
    this.slots.set(SLOT * slot + LENGTH, 0);
  }

  /** Appends the `n` lines of the list from `from` to `lines`. */
  private copy(lines: string[], from: number, n: number): string[] {
    const { chunks } = this;
    for (let g = from, end = from + n; g < end; g++) lines.push(chunks[g >>> CHUNK_BITS]![g & CHUNK_MASK]!);
    return lines;
  }

  /** A new segment of `n` lines at `at`, chained to nothing yet; returns its number. */
  private segment(at: number, n: number): number {
    const segment = this.segmentCount++;
    const j = SEGMENT * segment;
    this.segments.ensure(j + SEGMENT);
    this.segments.set(j + START, at);
    this.segments.set(j + LENGTH, n);
    return segment;
  }
}

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE - 1;

/** Whole numbers in pages of PAGE, zero until set: added to, never copied. */
class IntPages {
  private readonly pages: Int32Array[] = [];

  get length(): number {
    return this.pages.length << PAGE_BITS;
  }

  /** Makes room for at least `n` numbers in all. */
  ensure(n: number): void {
    while (this.length < n) this.pages.push(new Int32Array(PAGE));
  }

  get(i: number): number {
    return this.pages[i >>> PAGE_BITS]![i & PAGE_MASK]!;
  }

  set(i: number, value: number): void {
    this.pages[i >>> PAGE_BITS]![i & PAGE_MASK] = value;
  }
}

/**
 * A chunk of CHUNK empty lines, made at its full size and holding strings from the start (an array
 * made with `new Array(n)` alone would change its kind of elements with its first line; one grown by
 * push left three times its size of garbage, 130 bytes a run with 0-ms stages): a copy of one made
 * once, a copy of its elements' memory, where filling a new one went through the runtime element by
 * element (Array#fill on holes: 140 machine instructions a run, counted with valgrind).
 */
function emptyChunk(): string[] {
  return EMPTY_CHUNK.slice();
}

const EMPTY_CHUNK: readonly string[] = new Array<string>(CHUNK).fill("");
