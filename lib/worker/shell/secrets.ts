/**
 * Secrets: named values from a dotenv file that stages get as environment variables, and that are
 * never stored or streamed as they are: each occurrence in a log line becomes `***`.
 */
import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { ConfigError } from "../../api/errors.ts";
import { CUT_MARK } from "./lineSplitter.ts";
import { isReservedVariable } from "./stageEnvironment.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The secrets of a dotenv file (`NAME=value` lines, `#` comments, quoted values over several lines). */
export function loadSecrets(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`--secrets-file: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(text))) {
    // parseEnv reads a line without "=" as the start of the next name: say which line is wrong.
    if (!NAME.test(name)) throw new ConfigError(`--secrets-file: ${path}: ${JSON.stringify(name.split("\n")[0])} is not NAME=value`);
    if (isReservedVariable(name)) throw new ConfigError(`--secrets-file: ${path}: ${name} is set by Stagerunner itself; choose another name`);
    secrets[name] = value ?? "";
  }
  return secrets;
}

/**
 * Replaces every secret value in a line with `***`. A value of several lines is masked line by line,
 * since output is stored a line at a time, leaving out its lines of under 4 characters (the braces of
 * a JSON key would otherwise be masked in every log); longer values go first, so that a value
 * containing another is masked whole. A line cut at its size limit may end in a secret's start: that
 * is masked too.
 */
export function secretMasker(secrets: Record<string, string>): (line: string) => string {
  const fragments = Object.values(secrets).flatMap((value) => {
    const lines = value.split(/\r?\n/);
    return lines.length === 1 ? lines : lines.filter((line) => line.trim().length >= 4);
  });
  const values = [...new Set(fragments)].filter((value) => value.trim() !== "").sort((a, b) => b.length - a.length);
  if (values.length === 0) return (line) => line;
  return (line) => {
    for (const value of values) if (line.includes(value)) line = line.replaceAll(value, "***");
    return line.endsWith(CUT_MARK) ? maskCutStart(line.slice(0, -CUT_MARK.length), values) + CUT_MARK : line;
  };
}

/** `text` with its longest ending that starts one of `values` masked. */
function maskCutStart(text: string, values: string[]): string {
  let longest = 0;
  for (const value of values)
    for (let length = Math.min(value.length - 1, text.length); length > longest; length--)
      if (text.endsWith(value.slice(0, length))) {
        longest = length;
        break;
      }
  return longest ? `${text.slice(0, -longest)}***` : text;
}
