/** The server's and worker's own log lines, which carry stage output to the operator's terminal. */
import { describe, expect, it } from "vitest";
import { printable } from "../../cli/process.ts";

describe("printable", () => {
  it("drops escape sequences and shows other control characters, keeping text and tabs", () => {
    expect(printable("\u001b[31mred\u001b[0m\tdone")).toBe("red\tdone");
    expect(printable("50%\r100%\u0007")).toBe("50%\\x0d100%\\x07");
    expect(printable("title\u001b]0;pwned\u0007 ok")).toBe("title ok");
    expect(printable("a\u0000b\u007f")).toBe("a\\x00b\\x7f");
    expect(printable("8-bit \u009d0;title\u009c")).toBe("8-bit \\x9d0;title\\x9c");
    expect(printable("plain ünïcode ✓")).toBe("plain ünïcode ✓");
  });
});
