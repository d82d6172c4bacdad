/** The delete confirmation in-process: what counts as yes, and the end of input. */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { confirm } from "../../cli/client/confirm.ts";

async function answer(input: string | null): Promise<{ yes: boolean; asked: string }> {
  const stdin = new PassThrough();
  const stderr = new PassThrough();
  let asked = "";
  stderr.on("data", (chunk: Buffer) => (asked += chunk.toString()));
  const yes = confirm("Delete pipeline p?", stdin, stderr);
  if (input === null) stdin.end();
  else stdin.write(input);
  return { yes: await yes, asked };
}

describe("confirm", () => {
  it("asks on stderr and takes y or yes, in any case, as yes", async () => {
    expect(await answer("y\n")).toEqual({ yes: true, asked: "Delete pipeline p? [y/N] " });
    expect((await answer(" YES \n")).yes).toBe(true);
  });

  it("takes anything else, an empty line or the end of input as no", async () => {
    for (const input of ["n\n", "yep\n", "\n", null]) expect((await answer(input)).yes).toBe(false);
  });
});
