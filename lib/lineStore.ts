/**
 * The in-memory store's log lines: every stage's lines, of every run, in one shared list (arrays of
 * CHUNK lines each), a stage's lines being the segments of that list its writes appended, chained. A
 * run's lines thus cost it no object of its own, only numbers in pages of them: an array of lines per
 * run was, with the run's id string, most of what a run kept on the heap, and the garbage collector
 * copies every young object that survives twice (within the young generation, then out of it) and
 * marks it ever after. (With 0-ms stages, the queue bench's engine/baseline ratio was 0.19 with both
 * kept as objects and 0.26 with neither kept at all, an experiment: median of three runs each, in turn.)
 *
 * A slot (a run's row * stages per run + the stage) holds its first segment itself; a write appends in
 * place when the stage's last segment ends where the list does (the stage wrote last), else as a new
 * segment, chained after the last. Slots are added by the caller, with its rows; nothing is ever copied
 * to grow.
 */

const CHUNK_BITS = 13;
/** Lines per chunk: 8192, a 64 KB array. */
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

/**
 * A segment is three numbers: where in the list it starts, its length, and the next segment + 1 (0:
 * none). A slot is its first segment's three, then its last segment + 1 (0: the slot's own), so that a
 * write goes to the end of a stage's chain at once, however long it has grown.
 */
const START = 0;
const LENGTH = 1;
const NEXT = 2;
const LAST = 3;
const SEGMENT = 3;
const SLOT = 4;

export class LineStore {
  /** Lines in use, over all chunks. */
  private size = 0;
  private readonly chunks: string[][] = [];
  /** By slot * SLOT: its first segment (length 0: no lines) and its last. */
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
    const { slots } = this;
    const s = SLOT * slot;
    if (slots.get(s + LENGTH) === 0) {
      slots.set(s + START, at);
      slots.set(s + LENGTH, n);
    } else {
      // The stage's last segment: its own, or the last one chained.
      const last = slots.get(s + LAST);
      const pages = last === 0 ? slots : this.segments;
      const i = last === 0 ? s : SEGMENT * (last - 1);
      const length = pages.get(i + LENGTH);
      if (pages.get(i + START) + length === at) pages.set(i + LENGTH, length + n);
      else {
        const segment = this.segment(at, n);
        pages.set(i + NEXT, segment + 1);
        slots.set(s + LAST, segment + 1);
      }
    }
    const { chunks } = this;
    for (let k = 0; k < n; k++) chunks[(at + k) >>> CHUNK_BITS]![(at + k) & CHUNK_MASK] = lines[k]!;
    this.size = at + n;
  }

  /** `slot`'s lines, as a new array. */
  read(slot: number): string[] {
    const lines: string[] = [];
    const { chunks } = this;
    let pages = this.slots;
    let i = SLOT * slot;
    while (true) {
      for (let g = pages.get(i + START), end = g + pages.get(i + LENGTH); g < end; g++) lines.push(chunks[g >>> CHUNK_BITS]![g & CHUNK_MASK]!);
      const next = pages.get(i + NEXT);
      if (next === 0) return lines;
      pages = this.segments;
      i = SEGMENT * (next - 1);
    }
  }

  /** Forgets `slot`'s lines (their room in the list is not reused). */
  clear(slot: number): void {
    const s = SLOT * slot;
    this.slots.set(s + LENGTH, 0);
    this.slots.set(s + NEXT, 0);
    this.slots.set(s + LAST, 0);
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
 * push left three times its size of garbage, 130 bytes a run with 0-ms stages).
 */
function emptyChunk(): string[] {
  return new Array<string>(CHUNK).fill("");
}
