/** The JSON body argument: inline, @file, stdin, and the local errors that make a usage error. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it, onTestFinished } from "vitest";
import { InputError, readJsonArgument } from "../../cli/client/input.ts";

describe("readJsonArgument", () => {
  it("reads inline JSON, a file and stdin", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stagerunner-"));
    onTestFinished(() => rm(dir, { recursive: true }));
    const file = join(dir, "body.json");
    await writeFile(file, '{"from": "file"}');
    expect(await readJsonArgument('{"from": "arg"}')).toEqual({ from: "arg" });
    expect(await readJsonArgument(`@${file}`)).toEqual({ from: "file" });
    expect(await readJsonArgument("-", Readable.from([Buffer.from('{"from"'), Buffer.from(': "stdin"}')]))).toEqual({ from: "stdin" });
  });

  it("says what is wrong and where it came from", async () => {
    await expect(readJsonArgument("{oops")).rejects.toThrow(/^the JSON argument is not valid JSON: /);
    await expect(readJsonArgument("@/nonexistent/body.json")).rejects.toThrow("cannot read /nonexistent/body.json: ENOENT");
    await expect(readJsonArgument("-", Readable.from([]))).rejects.toThrow("stdin is empty; expected a JSON object");
    await expect(readJsonArgument("")).rejects.toBeInstanceOf(InputError);
  });
});
