/**
 * A stage's output becomes its log line by line, however the pipe cuts it into chunks.
 */
import { describe, expect, it } from "vitest";
import { LineSplitter, MAX_LINE_BYTES } from "../../../../lib/worker/shell/lineSplitter.ts";

function split(...chunks: (string | Buffer)[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.write(Buffer.from(chunk));
  splitter.end();
  return lines;
}

describe("LineSplitter", () => {
  it("emits lines across chunk boundaries, CRLF as LF, and a last line without a newline", () => {
    expect(split("one\ntw", "o\r\nthr", "ee")).toEqual(["one", "two", "three"]);
  });

  it("keeps empty lines and emits nothing for no output", () => {
    expect(split("a\n\nb\n")).toEqual(["a", "", "b"]);
    expect(split()).toEqual([]);
  });

  it("puts a multi-byte character split between chunks back together", () => {
    const euro = Buffer.from("€\n");
    expect(split(euro.subarray(0, 1), euro.subarray(1))).toEqual(["€"]);
  });

  it("cuts a line at 16 KB, drops the rest of it, and goes on with the next", () => {
    const long = "x".repeat(MAX_LINE_BYTES + 5000);
    const lines = split(long.slice(0, 10_000), long.slice(10_000) + "\nnext\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("x".repeat(MAX_LINE_BYTES) + " [line cut at 16 KB]");
    expect(lines[1]).toBe("next");
  });

  it("cuts before a character that would straddle 16 KB, never through it", () => {
    const lines = split("x".repeat(MAX_LINE_BYTES - 1) + "€uro\n");
    expect(lines).toEqual(["x".repeat(MAX_LINE_BYTES - 1) + " [line cut at 16 KB]"]);
  });

  it("keeps the last state of a line redrawn with carriage returns, however the chunks fall", () => {
    expect(split("10%\r50%\r100%\ndone\n")).toEqual(["100%", "done"]);
    expect(split("10%\r", "50%\r", "\n")).toEqual(["50%"]);
    expect(split("x".repeat(MAX_LINE_BYTES - 10) + "\r" + "y".repeat(100) + "\n")).toEqual(["y".repeat(100)]);
  });

  it("replaces NUL, which PostgreSQL cannot store", () => {
    expect(split("a\0b\n")).toEqual(["a\uFFFDb"]);
  });
});
