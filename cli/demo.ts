/**
 * `npm run demo`: a tour of the API against a running server (`npm start` in another terminal).
 * Creates a pipeline, triggers three runs, follows them to the end and lists them. The runs share a
 * pipeline, so the server runs them one after the other, oldest first, which the output shows.
 */
import { Command, CommanderError, Option } from "commander";
import type { Run } from "../lib/api/schemas.ts";
import { ApiError, ConnectionError, StagerunnerApi } from "./client/api.ts";
import { runLines, runOutcome } from "./client/format.ts";
import { followRun, Interrupted, untilInterrupted } from "./client/follow.ts";
import { StageProgress } from "./client/progress.ts";
import { DEFAULT_URL } from "./client/index.ts";

const REFS = ["main", "feature/login", "v1.2.0"];

interface DemoOptions {
  url: string;
  token?: string;
}

async function demo({ url, token }: DemoOptions): Promise<void> {
  const api = new StagerunnerApi(url, token ? { token } : {});
  // One cheap authenticated request first, so that a wrong URL or token fails before anything is created.
  await api.listPipelines({ limit: 1 });

  const pipeline = await api.createPipeline({
    name: `demo-${new Date().toISOString().slice(0, 19)}`,
    repository: "https://example.com/acme/shop.git",
    stages: {
      run_stage: { command: "npm test" },
      build_stage: { dockerfile_path: "Dockerfile" },
      deploy_stage: { cluster_name: "staging_eks_cluster", manifest_path: "k8s/" },
    },
  });
  console.log(`Pipeline created. ID: ${pipeline.id} (${pipeline.name})`);

  const queued: Run[] = [];
  for (const ref of REFS) {
    const run = await api.triggerPipeline(pipeline.id, ref);
    console.log(`Pipeline triggered. Run ID: ${run.id} (${ref})`);
    queued.push(run);
  }

  const width = Math.max(...REFS.map((r) => r.length)) + 2;
  console.log("\nFollowing the runs (one at a time: runs of a pipeline never overlap)...");
  const finished = await untilInterrupted((signal) =>
    Promise.all(
      queued.map((run) => {
        // Each line says which run it is about, since the three are followed at once.
        const print = (line: string) => console.log(`${`[${run.git_ref}]`.padEnd(width + 1)}${line}`);
        return followRun(api, run, { view: new StageProgress(print), retryMs: 30_000, notify: print, signal });
      }),
    ),
  );
  for (const run of finished) console.log(runOutcome(run));

  console.log(`\nRuns of pipeline ${pipeline.id}, newest first:`);
  const runs = await api.listRuns({ pipeline_id: pipeline.id });
  for (const line of runLines(runs.items, new Map([[pipeline.id, pipeline.name]]))) console.log(line);
  console.log(`\nMore: npx stagerunner client --url ${url} get-run ${finished[0]!.id}`);
}

/** One line for each way the demo can fail, with what to do about it. */
function explain(error: unknown, url: string): string | undefined {
  if (error instanceof ConnectionError) return `${error.message} (is the server running? start it with: npm start)`;
  if (error instanceof ApiError && error.problem.status === 401)
    return `${error.message} (pass the server's token with --token or STAGERUNNER_TOKEN)`;
  if (error instanceof ApiError) return `${url}: ${error.message}`;
  if (error instanceof Interrupted) return "interrupted; the runs go on on the server";
  if (error instanceof TypeError && /URL/i.test(error.message)) return `--url: ${error.message}`;
  return undefined;
}

const command = new Command("demo")
  .description("create a pipeline, trigger three runs and follow them, against a running Stagerunner server")
  .addOption(new Option("--url <url>", "the API's base URL").env("STAGERUNNER_URL").default(DEFAULT_URL))
  .addOption(new Option("--token <token>", "API token").env("STAGERUNNER_TOKEN"))
  .exitOverride()
  .action(async (opts: DemoOptions) => {
    try {
      await demo(opts);
    } catch (error) {
      const line = explain(error, opts.url);
      if (line === undefined) throw error;
      console.error(`demo: ${line}`);
      process.exitCode = error instanceof Interrupted ? 130 : 1;
    }
  });

try {
  await command.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? 0 : 2;
}
