/**
 * A process's output as lines, as it comes: "\n" ends a line (a "\r" before it goes), the last line
 * counts even without one, a line redrawn after "\r" (a progress bar) keeps its last state, and a line
 * longer than MAX_LINE_BYTES is cut there (the rest of it up to its newline is dropped), so that a
 * program printing without newlines cannot fill the worker's memory.
 */

export const MAX_LINE_BYTES = 16 * 1024;

/** What ends a line that was cut. */
export const CUT_MARK = ` [line cut at ${MAX_LINE_BYTES / 1024} KB]`;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private cut = false;

  constructor(private readonly emit: (line: string) => void) {}

  write(chunk: Buffer): void {
    for (let start = 0; ; ) {
      const newline = chunk.indexOf(10, start);
      this.keep(chunk.subarray(start, newline === -1 ? chunk.length : newline));
      if (newline === -1) return;
      this.endLine();
      start = newline + 1;
    }
  }

  /** The output is over: a last line without a newline is a line too. */
  end(): void {
    if (this.size > 0 || this.cut) this.endLine();
  }

  private keep(bytes: Buffer): void {
    const redraw = bytes.lastIndexOf(13);
    if (redraw !== -1 && redraw < bytes.length - 1) {
      this.parts = [];
      this.size = 0;
      this.cut = false;
      bytes = bytes.subarray(redraw + 1);
    }
    const room = MAX_LINE_BYTES - this.size;
    if (bytes.length > room) {
      this.cut = true;
      // Cut before a character rather than through it (0b10xxxxxx continues one): a secret's start
      // must stay text for secrets.ts to mask it.
      let end = room;
      while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
      bytes = bytes.subarray(0, end);
    }
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private endLine(): void {
    let line = Buffer.concat(this.parts, this.size).toString("utf8");
    if (line.endsWith("\r")) line = line.slice(0, -1);
    // A "\r" that ended one chunk and was redrawn over in the next.
    line = line.slice(line.lastIndexOf("\r") + 1);
    if (this.cut) line += CUT_MARK;
    this.parts = [];
    this.size = 0;
    this.cut = false;
    // NUL cannot be stored in PostgreSQL text; invalid UTF-8 already became U+FFFD in toString.
    this.emit(line.includes("\0") ? line.replaceAll("\0", "\uFFFD") : line);
  }
}
