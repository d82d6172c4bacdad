/**
 * A run's stage logs on their way to the store, one stage at a time. Lines logged within one turn of
 * the event loop go in one write (flushed on setImmediate, so a long stage's output shows up while it
 * runs); lines still buffered when the stage ends go with its final status write. A 0-ms simulated
 * stage thus costs one store write instead of three.
 *
 * One StageLog serves every stage of a run (open, add..., close), and one setImmediate per turn serves
 * every StageLog with lines waiting, kept in one array: a log that leaves (its stage closed) is only
 * marked, and the array is compacted when such logs are most of it. (A Set's add and delete per stage
 * showed in the engine's profile with 0-ms stages; a list threaded through the logs took 300 more
 * machine instructions a run than this array, counted with valgrind.)
 */
/** Where a StageLog's lines go while their stage runs. */
export interface LogWriter {
  writeLogs(index: number, lines: string[]): Promise<void>;
}

export class StageLog {
  private index = -1;
  /**
   * Lines not yet written: the first `count` of `pending`. The array is kept and refilled, and what is
   * taken is copied out at its exact size. It starts with room for a few lines: an empty one grows to
   * 17 slots with its first (most of a 0-ms stage's garbage).
   */
  private pending: string[] = new Array<string>(4);
  private count = 0;
  private writing: Promise<void> | undefined;
  private isOpen = false;
  /** Whether this log waits for the turn's flush, and whether it is in the list (it may have left). */
  private waiting = false;
  private listed = false;

  constructor(private readonly writer: LogWriter) {}

  /** Starts the log of stage `index`; the previous stage's must be closed. */
  open(index: number): void {
    this.index = index;
    this.isOpen = true;
  }

  /** Appends a line to stage `index`'s log; a line for a stage that has ended (a runner's late output) is dropped. */
  add(index: number, line: string): void {
    if (!this.isOpen || index !== this.index) return;
    this.pending[this.count++] = line;
    if (!this.waiting) StageLog.join(this);
  }

  /**
   * Ends the stage's log: the lines not yet written (those of failed writes included), at once when no
   * write is in flight, else once it has settled.
   */
  close(): string[] | Promise<string[]> {
    this.isOpen = false;
    if (this.waiting) StageLog.leave(this);
    if (!this.writing) return this.take();
    return this.writing.then(() => {
      this.writing = undefined;
      return this.take();
    });
  }

  private take(): string[] {
    // Copied in a loop: Array#slice is a call that the optimizer does not inline (its three slices of
    // two lines were 780 machine instructions a run, counted with valgrind).
    const { pending, count } = this;
    const lines = new Array<string>(count);
    for (let i = 0; i < count; i++) lines[i] = pending[i]!;
    // A burst's array is let go rather than kept, with its lines, for the rest of the run.
    if (this.count > REFILL_MAX) this.pending = new Array<string>(4);
    this.count = 0;
    return lines;
  }

  /** Called by the shared turn: writes what the open stage logged since the last write. */
  private flush(): void {
    if (!this.isOpen || !this.count) return;
    const index = this.index;
    // One write in flight at a time, each taking the lines waiting when it starts. A failed write
    // (the database away) puts its lines back in front, in order: they go with the next write or the
    // stage's status write, which the worker pool retries; a claim that was lost fails that one too.
    this.writing = this.writing ? this.writing.then(() => this.writeOut(index)) : this.writeOut(index);
  }

  /** Writes the lines waiting, if any; never rejects, nor throws into the shared flush. */
  private writeOut(index: number): Promise<void> | undefined {
    const lines = this.take();
    if (!lines.length) return undefined;
    let written: Promise<void>;
    try {
      written = this.writer.writeLogs(index, lines);
    } catch (thrown) {
      written = Promise.reject(thrown);
    }
    return written.catch(() => {
      const later = this.take();
      this.pending = lines.concat(later);
      this.count = this.pending.length;
    });
  }

  /** Flushes every waiting log, emptying the list first (a flush may make a log wait again). */
  static flushAll(): void {
    flushing = undefined;
    const logs = waiting;
    waiting = [];
    waitingCount = 0;
    for (const log of logs) {
      log.listed = false;
      if (log.waiting) {
        log.waiting = false;
        log.flush();
      }
    }
  }

  private static join(log: StageLog): void {
    log.waiting = true;
    waitingCount++;
    if (log.listed) return; // it left and is back within the turn
    log.listed = true;
    waiting.push(log);
    flushing ??= setImmediate(flushAll);
  }

  /**
   * A log that leaves stays in the list, marked as not waiting, until the flush; unless such logs are
   * most of it: with 0-ms stages the engine runs thousands of runs without a turn of the event loop.
   */
  private static leave(log: StageLog): void {
    log.waiting = false;
    waitingCount--;
    if (waiting.length >= 2 * waitingCount + 32) {
      let kept = 0;
      for (const other of waiting) {
        if (other.waiting) waiting[kept++] = other;
        else other.listed = false;
      }
      waiting.length = kept;
    }
  }
}

/** Lines beyond which `pending` is replaced rather than refilled. */
const REFILL_MAX = 64;

/** The logs with lines waiting for the turn's flush (and, marked so, some that left), and how many wait. */
let waiting: StageLog[] = [];
let waitingCount = 0;
let flushing: NodeJS.Immediate | undefined;
const flushAll = (): void => StageLog.flushAll();
