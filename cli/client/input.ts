/**
 * The JSON body of `create` and `update`: given inline, as `@path`, or `-` for stdin. Only JSON syntax
 * is checked here; what the body must contain is the server's to say, so its messages are the only ones.
 */
import { readFile } from "node:fs/promises";

/** A local problem with what the user typed; reported as a usage error (exit 2). */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

export async function readJsonArgument(arg: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<unknown> {
  const { text, source } = await readSource(arg, stdin);
  if (text.trim() === "") throw new InputError(`${source} is empty; expected a JSON object`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}

async function readSource(arg: string, stdin: NodeJS.ReadableStream): Promise<{ text: string; source: string }> {
  if (arg === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    return { text: Buffer.concat(chunks).toString("utf8"), source: "stdin" };
  }
  if (arg.startsWith("@")) {
    const path = arg.slice(1);
    try {
      return { text: await readFile(path, "utf8"), source: path };
    } catch (error) {
      throw new InputError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return { text: arg, source: "the JSON argument" };
}
