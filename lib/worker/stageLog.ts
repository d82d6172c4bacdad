/**
 * A run's stage logs on their way to the store, one stage at a time. Lines logged within one turn of
 * the event loop go in one write (flushed on setImmediate, so a long stage's output shows up while it
 * runs); lines still buffered when the stage ends go with its final status write, read from the log's
 * own buffer. A 0-ms simulated stage thus costs one store write instead of three, and no array.
 *
 * One StageLog serves every stage of a run (open, add..., close), and one LogTurn serves every log of
 * a worker pool: a line asks it for a flush at the end of the turn, and the flush goes over the pool's
 * runs in flight. No log joins or leaves a list of its own: with that list's upkeep left out, once a
 * stage, the engine's runs/s with 0-ms stages against the baseline loop's went from 0.16 to 0.18 (three
 * runs of the queue bench each).
 */
import type { LineBuffer } from "../store/store.ts";

/** Where a StageLog's lines go while their stage runs. */
export interface LogWriter {
  writeLogs(index: number, lines: string[]): Promise<void>;
}

/** One flush, at the end of the current turn of the event loop, of every log `flushAll` flushes. */
export class LogTurn {
  private scheduled: NodeJS.Immediate | undefined = undefined;

  constructor(private readonly flushAll: () => void) {}

  /** Asks for the flush (once per turn, however often asked). */
  request(): void {
    this.scheduled ??= setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = undefined;
    this.flushAll();
  };
}

export class StageLog implements LineBuffer {
  private index = -1;
  /**
   * Lines not yet written: the first `count`. The array is kept and refilled; it starts packed with
   * strings, as a literal (an array made empty, or with `new Array(n)`, changes its kind of elements
   * with its first line, and grows to 17 slots when made empty).
   */
  lines: string[] = ["", "", "", ""];
  count = 0;
  /** The write in flight, if any (with those that follow it while the stage logs meanwhile). */
  private writing: Promise<void> | undefined = undefined;
  /** Lines came while a write was in flight. */
  private more = false;
  /** The stage logged since the last flush (the turn's flush goes over every log, not only those that logged). */
  private fresh = false;
  /** How many times close() was called: a write loop that spans one leaves `writing` to it. */
  private closes = 0;
  private isOpen = false;

  constructor(
    private readonly writer: LogWriter,
    private readonly turn: LogTurn,
  ) {}

  /**
   * Starts the log of stage `index`; the previous stage's must be closed, and its final write made
   * (what close() handed out is let go here).
   */
  open(index: number): void {
    if (this.count > REFILL_MAX) this.lines = ["", "", "", ""]; // a burst's array is not kept for the rest of the run
    this.count = 0;
    this.index = index;
    this.isOpen = true;
    this.fresh = this.more = false;
  }

  /** Appends a line to stage `index`'s log; a line for a stage that has ended (a runner's late output) is dropped. */
  add(index: number, line: string): void {
    if (!this.isOpen || index !== this.index) return;
    this.lines[this.count++] = line;
    this.fresh = true;
    this.turn.request();
  }

  /**
   * Ends the stage's log. Its lines not yet written (those of failed writes included) are then in its
   * buffer, for the stage's final write to read (`closingLine` may add one more first): at once when
   * no write is in flight (undefined), else once it has settled (a promise).
   */
  close(): Promise<void> | undefined {
    this.isOpen = false;
    this.closes++;
    const writing = this.writing;
    if (!writing) return undefined;
    this.writing = undefined;
    return writing;
  }

  /** Adds a line after the closed stage's own (a failed stage's error), for its final write. */
  closingLine(line: string): void {
    this.lines[this.count++] = line;
  }

  /** The lines not yet written, as an array of their own, and the buffer emptied. */
  take(): string[] {
    const lines = this.lines.slice(0, this.count);
    this.count = 0;
    return lines;
  }

  /**
   * Called by the turn's flush: writes what the open stage logged since the last write. One write is in
   * flight at a time, each taking the lines waiting when it starts; lines of the turns it spans go in one
   * write after it, not one each. A failed write (the database away) puts its lines back in front, in
   * order, and is not tried again until the stage logs more: they go with the next write or the stage's
   * status write, which the worker pool retries; a claim that was lost fails that one too.
   */
  flush(): void {
    if (!this.isOpen || !this.fresh) return;
    this.fresh = false;
    if (this.writing) {
      this.more = true;
      return;
    }
    this.writing = this.writeAll(this.index);
  }

  /**
   * Writes the lines waiting, and again while more came meanwhile and the stage is still open; never
   * rejects. Lets go of `writing` in the same microtask as its last look at `more` (unless close() took
   * it), so that no flush in between sets `more` for a loop that has ended. (It always awaits once
   * before that, so flush() has set `writing` by then.)
   */
  private async writeAll(index: number): Promise<void> {
    const closes = this.closes;
    do this.more = false;
    while ((await this.writeOut(index)) && this.more && this.isOpen && this.index === index);
    if (this.closes === closes) this.writing = undefined;
  }

  /** Writes the lines waiting, if any: false if the write failed; never rejects, nor throws into the turn's flush. */
  private async writeOut(index: number): Promise<boolean> {
    if (!this.count) return true;
    const lines = this.take();
    try {
      await this.writer.writeLogs(index, lines);
      return true;
    } catch {
      this.lines = lines.concat(this.take());
      this.count = this.lines.length;
      return false;
    }
  }
}

/** Lines beyond which the buffer is replaced rather than refilled. */
const REFILL_MAX = 64;
