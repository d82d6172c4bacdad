/** `list-runs`, `get-run`, `cancel`: the run subcommands that do not start a run. */
import { Option, type Command } from "commander";
import { RUN_STATUSES, type RunStatus } from "../../lib/api/schemas.ts";
import { runDetail, runLines } from "./format.ts";
import { normalId } from "./ids.ts";
import { quiet } from "./progress.ts";
import { RESULT_HELP, waitForRun, withRetryOption, type WaitOptions } from "./watch.ts";
import { action, positiveInt, printNextPage, subcommand } from "./context.ts";

interface ListRunsOptions {
  pipeline?: string;
  status?: RunStatus;
  limit?: number;
  cursor?: string;
}

export function runCommands(): Command[] {
  const listRuns = subcommand("list-runs", "list runs, newest first")
    .option("--pipeline <id | name>", "only this pipeline's runs")
    .addOption(new Option("--status <status>", "only runs in this status").choices(RUN_STATUSES))
    .addOption(new Option("--limit <n>", "at most this many (server default 100, at most 1000)").argParser(positiveInt))
    .option("--cursor <cursor>", "continue from where a previous page ended")
    .action(
      action(async (ctx, opts: ListRunsOptions) => {
        const { pipeline, ...query } = opts;
        const pipelineId = pipeline === undefined ? undefined : await ctx.pipelines.resolve(pipeline);
        const page = await ctx.api.listRuns({ ...query, pipeline_id: pipelineId });
        ctx.raw(page.items);
        if (!ctx.json) ctx.say(runLines(page.items, await ctx.pipelines.byId()));
        if (page.next) printNextPage(ctx, "runs", "list-runs", { pipeline, status: query.status, limit: query.limit }, page.next);
      }),
    );

  const getRun = withRetryOption(
    subcommand("get-run", "show a run with its stages and logs")
      .argument("<run>", "run id")
      .option("--wait", `first wait for the run to finish; ${RESULT_HELP}`),
  ).action(
    action(async (ctx, id: string, opts: WaitOptions & { wait?: boolean }) => {
      let run = await ctx.api.getRun(normalId(id));
      if (opts.wait) {
        const last = await waitForRun(ctx, run, opts, quiet);
        if (!last) return;
        run = last;
      }
      ctx.raw(run);
      ctx.say(runDetail(run));
    }),
  );

  const cancel = subcommand("cancel", "cancel a queued or running run")
    .argument("<run>", "run id")
    .option("--reason <text>", "why, kept in the run's error (server default: by request)")
    .action(
      action(async (ctx, id: string, opts: { reason?: string }) => {
        const run = await ctx.api.cancelRun(normalId(id), opts.reason);
        ctx.raw(run);
        // A running run ends once its worker has stopped the stage; a queued one is cancelled at once.
        ctx.say(run.status === "cancelled" ? `Run ${run.id} cancelled.` : `Cancel requested for run ${run.id}; it ends once its worker has stopped it.`);
      }),
    );

  return [listRuns, getRun, cancel];
}
