/**
 * What every client subcommand shares: the API client built from the global options, output in human
 * or JSON form, and one place that turns failures into exit codes (errors.ts EXIT), so no stack trace
 * reaches the user.
 */
import { Command, InvalidArgumentError } from "commander";
import { ApiError, ConnectionError, StagerunnerApi } from "./api.ts";
import { CommandError, EXIT, isUnreachable } from "./errors.ts";
import { problemLines } from "./format.ts";
import { Interrupted } from "./follow.ts";
import { InputError } from "./input.ts";
import { PipelineNames } from "./pipelineNames.ts";

export interface ClientContext {
  api: StagerunnerApi;
  /** Pipeline names to ids and back, fetched at most once. */
  pipelines: PipelineNames;
  json: boolean;
  /** The global options given on the command line, as flags to repeat in a suggested command. */
  globalFlags: string[];
  /** Prints human lines (ignored with --json). */
  say(lines: string | string[]): void;
  /** Prints a response body as JSON (with --json only). */
  raw(body: unknown): void;
}

interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** A subcommand that shares the client's conventions: usage errors throw (main exits 2), help hint after errors. */
export function subcommand(name: string, description: string): Command {
  return new Command(name).description(description).exitOverride().showHelpAfterError("(add --help for usage)");
}

/** Wraps a subcommand's action: builds the context from the global options and reports failures. */
export function action<A extends unknown[]>(fn: (ctx: ClientContext, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args.at(-1) as Command;
    exitQuietlyOnClosedPipe();
    const positional = args.slice(0, -1) as A;
    const opts = command.optsWithGlobals<GlobalOptions>();
    let api: StagerunnerApi;
    try {
      // STAGERUNNER_TOKEN may hold the server's comma-separated list: the client sends the first.
      const token = opts.token?.split(",")[0]?.trim();
      api = new StagerunnerApi(opts.url, token ? { token } : {});
    } catch {
      return command.error(`error: --url: not an http(s) URL: ${opts.url}`, { exitCode: EXIT.usage, code: "stagerunner.url" });
    }
    const json = opts.json === true;
    const ctx: ClientContext = {
      api,
      pipelines: new PipelineNames(api),
      json,
      globalFlags: givenFlags(command, ["url", "token", "json"]),
      say: (lines) => {
        if (!json) for (const line of [lines].flat()) console.log(line);
      },
      raw: (body) => {
        if (json) console.log(JSON.stringify(body, null, 2));
      },
    };
    try {
      await fn(ctx, ...positional);
    } catch (error) {
      if (error instanceof InputError) return command.error(`error: ${error.message}`, { exitCode: EXIT.usage, code: "stagerunner.input" });
      report(error, opts.token);
    }
  };
}

/** `stagerunner client list-runs | head -1` closes stdout early: that is not an error worth a stack trace. */
let pipeGuarded = false;
function exitQuietlyOnClosedPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(process.exitCode ?? 0);
  });
}

function report(error: unknown, token: string | undefined): void {
  if (error instanceof ApiError) {
    for (const line of problemLines(error.problem)) console.error(line);
    if (error.problem.status === 401 && !token) console.error("  (no token given: use --token or STAGERUNNER_TOKEN)");
  } else if (error instanceof ConnectionError || error instanceof CommandError) {
    console.error(`error: ${error.message}`);
  } else if (error instanceof Interrupted) {
    console.error("interrupted");
    process.exitCode = EXIT.interrupted;
    return;
  } else {
    throw error;
  }
  process.exitCode = isUnreachable(error) ? EXIT.unreachable : EXIT.failed;
}

/** Parser for options that take a whole number >= 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return Number(value);
}

/**
 * The command for the next page of a list, on stderr (stdout stays the list, or one JSON document):
 * the same global flags the user gave, the same subcommand, filters and limit, and the server's cursor.
 */
export function printNextPage(ctx: ClientContext, what: string, command: string, options: Record<string, string | number | undefined>, cursor: string): void {
  const flags = Object.entries({ ...options, cursor })
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `--${name} ${shellWord(String(value))}`);
  console.error(`More ${what}: stagerunner client ${[...ctx.globalFlags, command, ...flags].join(" ")}`);
}

/** `--name value` for each of `names` that the user gave on the command line (not from the environment or a default). */
function givenFlags(command: Command, names: string[]): string[] {
  const values = command.optsWithGlobals<Record<string, unknown>>();
  return names
    .filter((name) => command.getOptionValueSourceWithGlobals(name) === "cli")
    .map((name) => (values[name] === true ? `--${name}` : `--${name} ${shellWord(String(values[name]))}`));
}

/** `value` as one shell word: as it is when it is plain, in single quotes otherwise. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
