/**
 * A run's stage logs on their way to the store, one stage at a time. Lines logged within one turn of
 * the event loop go in one write (flushed on setImmediate, so a long stage's output shows up while it
 * runs); lines still buffered when the stage ends go with its final status write. A 0-ms simulated
 * stage thus costs two store writes instead of four.
 *
 * One StageLog serves every stage of a run (open, add..., close), and one setImmediate per turn serves
 * every StageLog with lines waiting: a busy engine ends many stages per turn, and an Immediate per
 * stage was a tenth of its garbage. A log leaves the waiting set when its stage closes: with 0-ms
 * stages the engine runs thousands of runs without yielding a turn, and the set must not keep them.
 */
export class StageLog {
  private index = -1;
  private pending: string[] = [];
  private writing: Promise<void> | undefined;
  private isOpen = false;

  constructor(private readonly write: (index: number, lines: string[]) => Promise<void>) {}

  /** Starts the log of stage `index`; the previous stage's must be closed. */
  open(index: number): void {
    this.index = index;
    this.isOpen = true;
  }

  /** Appends a line to stage `index`'s log; a line for a stage that has ended (a runner's late output) is dropped. */
  add(index: number, line: string): void {
    if (!this.isOpen || index !== this.index) return;
    this.pending.push(line);
    waiting.add(this);
    flushing ??= setImmediate(flushAll);
  }

  /** Waits for writes in flight and returns the lines not yet written (those of failed writes included). */
  async close(): Promise<string[]> {
    this.isOpen = false;
    waiting.delete(this);
    if (this.writing) await this.writing;
    this.writing = undefined;
    const lines = this.pending;
    this.pending = [];
    return lines;
  }

  /** Called by the shared turn: writes what the open stage logged since the last write. */
  private flush(): void {
    if (!this.isOpen || !this.pending.length) return;
    const index = this.index;
    // One write in flight at a time, each taking the lines waiting when it starts. A failed write
    // (the database away) puts its lines back in front, in order: they go with the next write or the
    // stage's status write, which the worker pool retries; a claim that was lost fails that one too.
    this.writing = (this.writing ?? Promise.resolve()).then(() => {
      const lines = this.pending;
      this.pending = [];
      if (!lines.length) return;
      return this.write(index, lines).catch(() => void (this.pending = [...lines, ...this.pending]));
    });
  }

  static flushAll(): void {
    flushing = undefined;
    const logs = [...waiting];
    waiting.clear();
    for (const log of logs) log.flush();
  }
}

/** Open logs with lines not yet written. */
const waiting = new Set<StageLog>();
let flushing: NodeJS.Immediate | undefined;
const flushAll = (): void => StageLog.flushAll();
