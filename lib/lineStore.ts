/**
 * The in-memory store's log lines: every stage's lines, of every run, in one shared list (arrays of
 * CHUNK lines each), a stage's lines being the segments of that list its writes appended, chained. A
 * run's lines thus cost it no object of its own, only numbers in pages of them: an array of lines per
 * run was, with the run's id string, most of what a run kept on the heap, and the garbage collector
 * copies every young object that survives twice (within the young generation, then out of it) and
 * marks it ever after. (With 0-ms stages, the bench's engine/baseline ratio was 0.19 with both kept,
 * 0.26 with neither: median of three queue benches each, in turn.)
 *
 * A slot (a run's row * stages per run + the stage) holds its first segment itself; a write appends in
 * place when the stage's last segment ends where the list does (the stage wrote last), else as a new
 * segment, chained. Slots are added by the caller, with its rows; nothing is ever copied to grow.
 */

const CHUNK_BITS = 13;
/** Lines per chunk: 8192, a 64 KB array. */
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

/** A slot or a segment is three numbers: where in the list it starts, its length, the next segment + 1 (0: none). */
const START = 0;
const LENGTH = 1;
const NEXT = 2;

export class LineStore {
  /** Lines in use, over all chunks. */
  private size = 0;
  private readonly chunks: string[][] = [];
  /** By slot * 3: its first segment (length 0: no lines). */
  private readonly slots = new IntPages();
  /** By segment * 3. */
  private readonly segments = new IntPages();
  private segmentCount = 0;

  /** Adds `n` slots after those there are. */
  addSlots(n: number): void {
    this.slots.add(3 * n);
  }

  /** Whether `slot` has any line. */
  has(slot: number): boolean {
    return this.slots.get(3 * slot + LENGTH) !== 0;
  }

  /** Appends the first `n` of `lines` to `slot`'s. */
  append(slot: number, lines: readonly string[], n: number): void {
    if (n === 0) return;
    const at = this.size;
    while (this.chunks.length << CHUNK_BITS < at + n) this.chunks.push(emptyChunk());
    // The stage's last segment, as pages and index.
    let pages = this.slots;
    let i = 3 * slot;
    if (pages.get(i + LENGTH) !== 0) {
      for (let next = pages.get(i + NEXT); next !== 0; next = pages.get(i + NEXT)) {
        pages = this.segments;
        i = 3 * (next - 1);
      }
      const length = pages.get(i + LENGTH);
      if (pages.get(i + START) + length === at) pages.set(i + LENGTH, length + n);
      else i = this.chain(pages, i, at, n);
    } else {
      pages.set(i + START, at);
      pages.set(i + LENGTH, n);
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
    let i = 3 * slot;
    while (true) {
      for (let g = pages.get(i + START), end = g + pages.get(i + LENGTH); g < end; g++) lines.push(chunks[g >>> CHUNK_BITS]![g & CHUNK_MASK]!);
      const next = pages.get(i + NEXT);
      if (next === 0) return lines;
      pages = this.segments;
      i = 3 * (next - 1);
    }
  }

  /** Forgets `slot`'s lines (their room in the list is not reused). */
  clear(slot: number): void {
    this.slots.set(3 * slot + LENGTH, 0);
    this.slots.set(3 * slot + NEXT, 0);
  }

  /** A new segment of `n` lines at `at`, chained after the one at `i` of `pages`; returns its index. */
  private chain(pages: IntPages, i: number, at: number, n: number): number {
    const segment = this.segmentCount++;
    const j = 3 * segment;
    if (j + 3 > this.segments.length) this.segments.add(PAGE);
    pages.set(i + NEXT, segment + 1);
    this.segments.set(j + START, at);
    this.segments.set(j + LENGTH, n);
    return j;
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

  /** Adds room for at least `n` more numbers. */
  add(n: number): void {
    for (let end = this.length + n; this.length < end; ) this.pages.push(new Int32Array(PAGE));
  }

  get(i: number): number {
    return this.pages[i >>> PAGE_BITS]![i & PAGE_MASK]!;
  }

  set(i: number, value: number): void {
    this.pages[i >>> PAGE_BITS]![i & PAGE_MASK] = value;
  }
}

/**
 * A chunk of CHUNK empty lines, packed with strings from the start (an array made with `new Array(n)`
 * would change its kind of elements with its first line).
 */
function emptyChunk(): string[] {
  const chunk: string[] = [];
  for (let i = 0; i < CHUNK; i++) chunk.push("");
  return chunk;
}
