/**
 * A stage's log on its way to the store. Lines logged within one turn of the event loop go in one
 * write (flushed on setImmediate, so a long stage's output shows up while it runs); lines still
 * buffered when the stage ends go with its final status write. A 0-ms simulated stage thus costs two
 * store writes instead of four.
 */
export class StageLog {
  private pending: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private scheduled: NodeJS.Immediate | undefined;
  private error: unknown;
  private closed = false;

  constructor(private readonly write: (lines: string[]) => Promise<void>) {}

  add(line: string): void {
    if (this.closed) return;
    this.pending.push(line);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Waits for writes in flight and returns the lines not yet written; rethrows the first write error. */
  async close(): Promise<string[]> {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    await this.writing;
    if (this.error !== undefined) throw this.error;
    const lines = this.pending;
    this.pending = [];
    return lines;
  }

  private flush(): void {
    this.scheduled = undefined;
    const lines = this.pending;
    this.pending = [];
    this.writing = this.writing.then(() => this.write(lines)).catch((thrown) => void (this.error ??= thrown));
  }
}
