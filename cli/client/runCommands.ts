/** `trigger`, `list-runs`, `get-run`: the run subcommands. */
import { Option, type Command } from "commander";
import { RUN_STATUSES } from "../../lib/api/schemas.ts";
import type { RunsQuery } from "./api.ts";
import { runDetail, runLines, runOutcome } from "./format.ts";
import { followRun, Interrupted, untilInterrupted } from "./follow.ts";
import { action, positiveInt, printNextPage, subcommand, type ClientContext } from "./context.ts";

interface TriggerOptions {
  wait?: boolean;
  intervalMs: number;
}

export function runCommands(): Command[] {
  const trigger = subcommand("trigger", "queue a run of a pipeline")
    .argument("<id>", "pipeline id")
    .argument("[git_ref]", "branch, tag or commit to run", "main")
    .option("--wait", "follow the run to its end; exit 0 on success, 1 on failed or cancelled")
    .addOption(new Option("--interval-ms <ms>", "how often to poll with --wait").argParser(positiveInt).default(200))
    .action(action(triggerAction));

  const listRuns = subcommand("list-runs", "list runs, newest first")
    .option("--pipeline <id>", "only this pipeline's runs")
    .addOption(new Option("--status <status>", "only runs in this status").choices(RUN_STATUSES))
    .addOption(new Option("--limit <n>", "at most this many (server default 100, at most 1000)").argParser(positiveInt))
    .option("--cursor <cursor>", "continue from where a previous page ended")
    .action(
      action(async (ctx, opts: { pipeline?: string } & Omit<RunsQuery, "pipeline_id">) => {
        const { pipeline, ...rest } = opts;
        const page = await ctx.api.listRuns({ ...rest, pipeline_id: pipeline });
        ctx.raw(page.items);
        ctx.say(runLines(page.items));
        if (page.next) printNextPage(ctx, "runs", "list-runs", { pipeline, status: rest.status, limit: rest.limit }, page.next);
      }),
    );

  const getRun = subcommand("get-run", "show a run with its stages and logs")
    .argument("<id>", "run id")
    .action(
      action(async (ctx, id: string) => {
        const run = await ctx.api.getRun(id);
        ctx.raw(run);
        ctx.say(runDetail(run));
      }),
    );

  return [trigger, listRuns, getRun];
}

async function triggerAction(ctx: ClientContext, id: string, gitRef: string, opts: TriggerOptions): Promise<void> {
  const queued = await ctx.api.triggerPipeline(id, gitRef);
  if (!opts.wait) {
    ctx.raw(queued);
    ctx.say(`Pipeline triggered. Run ID: ${queued.id}`);
    return;
  }
  ctx.say(`Pipeline triggered. Run ID: ${queued.id}`);
  try {
    const run = await untilInterrupted((signal) =>
      followRun(ctx.api, queued, { intervalMs: opts.intervalMs, signal, print: ctx.json ? () => {} : console.log }),
    );
    ctx.raw(run);
    ctx.say(runOutcome(run));
    process.exitCode = run.status === "success" ? 0 : 1;
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    // Stopping the poll does not stop the run; say where to look for it.
    console.error(`stopped following run ${queued.id}; it goes on on the server (stagerunner client get-run ${queued.id})`);
    process.exitCode = 130;
  }
}
