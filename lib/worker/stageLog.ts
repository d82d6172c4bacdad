/**
 * A run's stage log on its way to the store. Lines logged within one turn of the event loop go in one
 * write (flushed on setImmediate), so that a long stage's output shows while it runs without a write
 * a line; one write is in flight at a time. Lines still buffered when the stage ends go with the
 * stage's final status write.
 */
export class StageLog {
  private index = -1;
  private isOpen = false;
  /** Lines not yet written. */
  private lines: string[] = [];
  private writing: Promise<void> | undefined;
  private scheduled: NodeJS.Immediate | undefined;

  /** `write` appends lines to stage `index` in the store. */
  constructor(private readonly write: (index: number, lines: string[]) => Promise<void>) {}

  open(index: number): void {
    this.index = index;
    this.isOpen = true;
    this.lines = [];
  }

  /** Appends a line to stage `index`; a line for a stage that has ended (a runner's late output) is dropped. */
  add(index: number, line: string): void {
    if (!this.isOpen || index !== this.index) return;
    this.lines.push(line);
    this.scheduled ??= setImmediate(this.flush);
  }

  /** Ends the stage's log once any write in flight has settled; returns the lines not yet written. */
  async close(): Promise<string[]> {
    this.isOpen = false;
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    await this.writing;
    const lines = this.lines;
    this.lines = [];
    return lines;
  }

  /**
   * Writes the lines waiting. A failed write (the database away) puts its lines back in front and is
   * not retried until the stage logs more: they go with the next write or the stage's status write,
   * which the worker retries.
   */
  private readonly flush = (): void => {
    this.scheduled = undefined;
    if (!this.isOpen || this.writing || this.lines.length === 0) return;
    const { index, lines } = this;
    this.lines = [];
    this.writing = this.write(index, lines).then(
      () => {
        this.writing = undefined;
        if (this.lines.length && this.isOpen) this.scheduled ??= setImmediate(this.flush);
      },
      () => {
        this.writing = undefined;
        this.lines = lines.concat(this.lines);
      },
    );
  };
}
