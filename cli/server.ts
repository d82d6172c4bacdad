/**
 * `stagerunner server`: the local emulator (what `npm start` runs). Flags override environment
 * variables, which override defaults; a bad value stops start-up with one line.
 */
import { Command } from "commander";
import { redactUrl } from "../lib/config/settings.ts";
import { loadServerConfig, serverSettings, type ServerConfig } from "../lib/config/serverSettings.ts";
import { onShutdownSignal, stamp } from "./process.ts";
import { addSettings } from "./settings.ts";
import { describeExecutor } from "../lib/worker/runners.ts";

export function serverCommand(): Command {
  const command = new Command("server").description("run the API, the store and the worker pool in one process").exitOverride();
  return addSettings(command, serverSettings).action(async (flags: Record<string, string | boolean | undefined>) => serve(loadServerConfig(flags)));
}

async function serve(config: ServerConfig): Promise<void> {
  // Loaded here, not at the top: client commands need neither Express nor the handlers (0.5 s of start-up).
  const { startServer } = await import("../local/server.ts");
  const server = await startServer(config, { log: stamp });
  const store = config.store.kind === "postgres" ? redactUrl(config.store.url) : "in memory";
  const served = config.from ? `, serving the bundles of ${config.from}` : "";
  console.log(`Stagerunner listening on ${server.url}${config.basePath} (store: ${store}${served}; workers: ${config.workers}, ${describeExecutor(config)})`);
  if (server.generatedToken) {
    const token = server.tokens[0];
    console.log(`No token configured (--token / STAGERUNNER_TOKEN); generated one for this run:\n  ${token}`);
    console.log(`Try: npx stagerunner client --url ${server.url}${config.basePath} --token ${token} list`);
  }
  onShutdownSignal(async (signal) => {
    stamp(`${signal}: no longer accepting requests`);
    const report = await server.close();
    const queued = server.store.durable ? "queued runs stay queued for other workers" : `${report.cancelledQueued.length} queued run(s) cancelled`;
    stamp(`stopped (${report.interrupted.length} running run(s) cancelled, ${queued})`);
  });
}
