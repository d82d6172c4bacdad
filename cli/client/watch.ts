/**
 * What the commands that wait for a run share (`trigger --wait`, `rerun --wait`, `get-run --wait`,
 * `logs --follow`): the --retry-s option, and following to the end with the run's result as exit status.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { Run } from "../../lib/api/schemas.ts";
import { EXIT } from "./errors.ts";
import { followRun, Interrupted, untilInterrupted } from "./follow.ts";
import type { RunView } from "./progress.ts";
import type { ClientContext } from "./context.ts";

/** How a waiting command ends, for its --help. */
export const RESULT_HELP = "exit 0 on success, 1 on failed or cancelled";

export interface WaitOptions {
  retryS: number;
}

/** Adds --retry-s to a command that waits. */
export function withRetryOption(command: Command): Command {
  const option = new Option("--retry-s <seconds>", "while waiting, how long to go on reconnecting after the server stops answering; then exit 3")
    .argParser(nonNegativeSeconds)
    .default(30);
  return command.addOption(option);
}

/**
 * Follows `run` to its end and sets the exit status from its result: 0 success, 1 failed or cancelled.
 * Ctrl-C stops following (exit 130) and says that the run goes on; then it resolves with undefined.
 */
export async function waitForRun(ctx: ClientContext, run: Run, opts: WaitOptions, view: RunView): Promise<Run | undefined> {
  try {
    const last = await untilInterrupted((signal) =>
      followRun(ctx.api, run, { view, retryMs: opts.retryS * 1000, notify: (line) => console.error(line), signal }),
    );
    process.exitCode = last.status === "success" ? EXIT.success : EXIT.failed;
    return last;
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    console.error(`stopped following run ${run.id}; it goes on on the server (stagerunner client get-run ${run.id})`);
    process.exitCode = EXIT.interrupted;
    return undefined;
  }
}

function nonNegativeSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError("must be a number of seconds, 0 or more");
  return Number(value);
}
