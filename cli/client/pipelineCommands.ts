/** `create`, `list`, `get`, `update`, `delete`: the pipeline subcommands. */
import { Option, type Command } from "commander";
import { confirm } from "./confirm.ts";
import { CommandError } from "./errors.ts";
import { pipelineDetail, pipelineLines } from "./format.ts";
import { readJsonArgument } from "./input.ts";
import { action, positiveInt, printNextPage, subcommand } from "./context.ts";

const BODY_HELP = "the pipeline as JSON: inline, @file to read a file, or - to read stdin";

export function pipelineCommands(): Command[] {
  const create = subcommand("create", "create a pipeline")
    .argument("<json | @file | ->", BODY_HELP)
    .addHelpText("after", `\nExample:\n  stagerunner client create '{"name":"test1","repository":"repo1","stages":{"run_stage":{"command":"make test"}}}'`)
    .action(
      action(async (ctx, body: string) => {
        const pipeline = await ctx.api.createPipeline(await readJsonArgument(body));
        ctx.raw(pipeline);
        ctx.say(`Pipeline created. ID: ${pipeline.id}`);
      }),
    );

  const list = subcommand("list", "list pipelines, oldest first")
    .addOption(new Option("--limit <n>", "at most this many (server default 100, at most 1000)").argParser(positiveInt))
    .option("--cursor <cursor>", "continue from where a previous page ended")
    .action(
      action(async (ctx, opts: { limit?: number; cursor?: string }) => {
        const page = await ctx.api.listPipelines(opts);
        ctx.raw(page.items);
        ctx.say(pipelineLines(page.items));
        if (page.next) printNextPage(ctx, "pipelines", "list", { limit: opts.limit }, page.next);
      }),
    );

  const get = subcommand("get", "show a pipeline")
    .argument("<pipeline>", "pipeline id or name")
    .action(
      action(async (ctx, ref: string) => {
        const pipeline = await ctx.api.getPipeline(await ctx.pipelines.resolve(ref));
        ctx.raw(pipeline);
        ctx.say(pipelineDetail(pipeline));
      }),
    );

  const update = subcommand("update", "replace a pipeline's name, repository and stages")
    .argument("<pipeline>", "pipeline id or name")
    .argument("<json | @file | ->", BODY_HELP)
    .action(
      action(async (ctx, ref: string, body: string) => {
        const input = await readJsonArgument(body);
        const pipeline = await ctx.api.updatePipeline(await ctx.pipelines.resolve(ref), input);
        ctx.raw(pipeline);
        ctx.say(`Pipeline updated. ID: ${pipeline.id}`);
      }),
    );

  const remove = subcommand("delete", "delete a pipeline; its queued and running runs are cancelled")
    .argument("<pipeline>", "pipeline id or name")
    .option("-y, --yes", "do not ask for confirmation (it is asked only when stdin is a terminal)")
    .action(
      action(async (ctx, ref: string, opts: { yes?: boolean }) => {
        const id = await ctx.pipelines.resolve(ref);
        // Asked on a terminal only: a script (stdin not a terminal) deletes as before, without --yes.
        if (!opts.yes && process.stdin.isTTY) {
          const { name } = await ctx.api.getPipeline(id);
          if (!(await confirm(`Delete pipeline ${name} (${id}) and cancel its queued and running runs?`)))
            throw new CommandError("not deleted");
        }
        await ctx.api.deletePipeline(id);
        // 204 has no body, so --json prints nothing: the exit status says it worked.
        ctx.say(`Pipeline deleted. ID: ${id}`);
      }),
    );

  return [create, list, get, update, remove];
}
