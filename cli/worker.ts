/**
 * `stagerunner worker`: executes runs from a PostgreSQL store, no HTTP. SIGINT/SIGTERM: stop claiming,
 * let running runs finish within the grace period, hand back the rest, exit 0.
 */
import { Command } from "commander";
import { loadConfig, redactUrl } from "../lib/config/settings.ts";
import { workerSettings, type WorkerConfig } from "../lib/config/workerSettings.ts";
import { onShutdownSignal, stamp } from "./process.ts";
import { addSettings, type HelpOverrides } from "./settings.ts";
import { describeExecutor } from "../lib/worker/runners.ts";

/**
 * The settings as they apply to a worker process: it needs PostgreSQL (there is no memory default), at
 * least one worker, and on shutdown it hands unfinished runs back to the queue instead of cancelling them.
 */
const WORKER_HELP: HelpOverrides<typeof workerSettings> = {
  store: { description: "the PostgreSQL database the API uses: a postgres:// URL (required)", default: undefined },
  dbPoolWaitMs: { description: "PostgreSQL: how long a query waits for a busy pool's connection" },
  retainRuns: { description: "finished runs to keep, the oldest dropped first (every run when not set)" },
  workers: { description: "runs this process executes at once, at least 1" },
  shutdownGraceMs: { description: "on SIGINT/SIGTERM, how long running runs may go on before they are handed back to the queue" },
};

export function workerCommand(): Command {
  const command = new Command("worker").description("execute runs from a shared PostgreSQL store; run as many as you like").exitOverride();
  return addSettings(command, workerSettings, WORKER_HELP).action(async (flags: Record<string, string | boolean | undefined>) =>
    work(loadConfig(workerSettings, flags)),
  );
}

async function work(config: WorkerConfig): Promise<void> {
  const { startWorkers } = await import("../local/worker.ts");
  const workers = await startWorkers(config, { log: stamp });
  const where = config.store.kind === "postgres" ? redactUrl(config.store.url) : "memory";
  stamp(`Stagerunner worker: ${config.workers} worker(s) on ${where} (lease ${config.leaseMs} ms, ${describeExecutor(config)})`);
  onShutdownSignal(async (signal) => {
    stamp(`${signal}: no longer claiming runs; waiting up to ${config.shutdownGraceMs} ms for ${workers.pool.busy} running run(s)`);
    const report = await workers.close();
    stamp(`stopped (${report.released.length} run(s) handed back to the queue)`);
  });
}
