/**
 * What every client subcommand shares: the API client built from the global options, output in human
 * or JSON form, and one place that turns failures into exit codes (1 for the API or the network,
 * 2 for what the user typed, 130 for Ctrl-C), so no stack trace reaches the user.
 */
import { Command, InvalidArgumentError } from "commander";
import { ApiError, ConnectionError, StagerunnerApi } from "./api.ts";
import { problemLines } from "./format.ts";
import { Interrupted } from "./follow.ts";
import { InputError } from "./input.ts";

export interface ClientContext {
  api: StagerunnerApi;
  json: boolean;
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
      return command.error(`error: --url: not an http(s) URL: ${opts.url}`, { exitCode: 2, code: "stagerunner.url" });
    }
    const json = opts.json === true;
    const ctx: ClientContext = {
      api,
      json,
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
      if (error instanceof InputError) return command.error(`error: ${error.message}`, { exitCode: 2, code: "stagerunner.input" });
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
    process.exitCode = 1;
  } else if (error instanceof ConnectionError) {
    console.error(`error: ${error.message}`);
    process.exitCode = 1;
  } else if (error instanceof Interrupted) {
    console.error("interrupted");
    process.exitCode = 130;
  } else {
    throw error;
  }
}

/** Parser for options that take a whole number >= 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return Number(value);
}

/**
 * The command for the next page of a list: the same subcommand with the same filters and limit, and
 * the cursor the server returned. Printed on stdout, or on stderr with --json so that stdout stays one
 * JSON document.
 */
export function printNextPage(ctx: { json: boolean }, what: string, command: string, options: Record<string, string | number | undefined>, cursor: string): void {
  const flags = Object.entries({ ...options, cursor })
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `--${name} ${value}`);
  (ctx.json ? console.error : console.log)(`More ${what}: stagerunner client ${command} ${flags.join(" ")}`);
}
