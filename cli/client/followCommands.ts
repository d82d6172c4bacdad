/** `trigger`, `rerun`, `logs`: the subcommands that start a run or show its lines, and can follow it to its end. */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { Run, RunEnv } from "../../lib/api/schemas.ts";
import { queuedLine, runOutcome } from "./format.ts";
import { followRun, TERMINAL } from "./follow.ts";
import { normalId } from "./ids.ts";
import { JsonLines, quiet, StageProgress } from "./progress.ts";
import { RESULT_HELP, waitForRun, withRetryOption, type WaitOptions } from "./watch.ts";
import { action, subcommand, type ClientContext } from "./context.ts";

type StartOptions = WaitOptions & { wait?: boolean };

const WAIT_HELP = `follow the run to its end, printing stages and log lines; ${RESULT_HELP}`;

export function followCommands(): Command[] {
  const trigger = withRetryOption(
    subcommand("trigger", "queue a run of a pipeline")
      .argument("<pipeline>", "pipeline id or name")
      .argument("[git_ref]", "branch, tag or commit to run", "main")
      .option("--env <NAME=value>", "a parameter for the run's stages, as an environment variable (repeatable)", envPair, undefined)
      .option("--wait", WAIT_HELP)
      // Polling gave way to long-polls; the flag is still accepted so that scripts that pass it keep working.
      .addOption(new Option("--interval-ms <ms>").hideHelp()),
  ).action(
    action(async (ctx, pipeline: string, gitRef: string, opts: StartOptions & { env?: RunEnv }) => {
      const run = await ctx.api.triggerPipeline(await ctx.pipelines.resolve(pipeline), gitRef, opts.env);
      await started(ctx, run, `Pipeline triggered. Run ID: ${run.id}`, opts);
    }),
  );

  const rerun = withRetryOption(
    subcommand("rerun", "queue a new run with the ref and stages of an earlier one")
      .argument("<run>", "run id")
      .option("--wait", WAIT_HELP),
  ).action(
    action(async (ctx, id: string, opts: StartOptions) => {
      const run = await ctx.api.rerunRun(normalId(id));
      await started(ctx, run, `Rerun of run ${run.rerun_of} queued. Run ID: ${run.id}`, opts);
    }),
  );

  const logs = withRetryOption(
    subcommand("logs", "print a run's stages and log lines so far (--json: one JSON object a line)")
      .argument("<run>", "run id")
      .option("-f, --follow", `go on until the run has finished; ${RESULT_HELP}`),
  ).action(
    action(async (ctx, id: string, opts: WaitOptions & { follow?: boolean }) => {
      const run = await ctx.api.getRun(normalId(id));
      if (!opts.follow && run.status === "queued") console.error(queuedLine(run));
      const view = ctx.json ? new JsonLines(console.log) : new StageProgress(console.log);
      const last = opts.follow
        ? await waitForRun(ctx, run, opts, view)
        : await followRun(ctx.api, run, { view, retryMs: 0, notify: (line) => console.error(line), follow: false });
      if (last && TERMINAL.has(last.status)) ctx.say(runOutcome(last));
    }),
  );

  return [trigger, rerun, logs];
}

/**
 * Adds one `--env NAME=value` to those before it: the value is everything after the first `=` (it may
 * hold more); a later NAME wins. Which names are allowed is the server's to say.
 */
export function envPair(pair: string, env: RunEnv | undefined): RunEnv {
  const at = pair.indexOf("=");
  if (at < 1) throw new InvalidArgumentError("expected NAME=value");
  return { ...env, [pair.slice(0, at)]: pair.slice(at + 1) };
}

/** After a trigger or rerun: the new run's id, then with --wait the run followed to its end. */
async function started(ctx: ClientContext, run: Run, message: string, opts: StartOptions): Promise<void> {
  ctx.say(message);
  if (!opts.wait) return ctx.raw(run);
  // With --json stdout is one document, the finished run: nothing is shown on the way.
  const last = await waitForRun(ctx, run, opts, ctx.json ? quiet : new StageProgress(console.log));
  if (!last) return;
  ctx.raw(last);
  ctx.say(runOutcome(last));
}
