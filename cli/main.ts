/**
 * `stagerunner`: `server` runs the emulator, `client` talks to any Stagerunner API by URL.
 * Usage errors exit 2; the client's other exit statuses are in client/errors.ts.
 */
import { Command, CommanderError } from "commander";
// Imported rather than read from disk, so that a bundle of the CLI carries its version.
import pkg from "../package.json" with { type: "json" };
import { ConfigError } from "../lib/api/errors.ts";
import { clientCommand } from "./client/index.ts";
import { migrateCommand } from "./migrate.ts";
import { serverCommand } from "./server.ts";
import { workerCommand } from "./worker.ts";

export function program(): Command {
  const root = new Command("stagerunner")
    .description("Stagerunner: define CI/CD pipelines, trigger them, follow their runs")
    .version(pkg.version, "-V, --version", "print the version")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  root.addCommand(serverCommand());
  root.addCommand(workerCommand());
  root.addCommand(migrateCommand());
  root.addCommand(clientCommand());
  return root;
}

try {
  await program().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  if (error instanceof ConfigError) {
    console.error(`stagerunner: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
