/**
 * `stagerunner client <command>`: talks to any Stagerunner API (the emulator, a Lambda deployment
 * behind a base path, ...) by URL. Global options may come before or after the subcommand.
 */
import { Command, Option } from "commander";
import { followCommands } from "./followCommands.ts";
import { pipelineCommands } from "./pipelineCommands.ts";
import { runCommands } from "./runCommands.ts";

export const DEFAULT_URL = "http://127.0.0.1:8080";

export function clientCommand(): Command {
  const client = new Command("client")
    .description("talk to a Stagerunner API")
    .addOption(new Option("--url <url>", "the API's base URL, with any base path (https://host/prod)").env("STAGERUNNER_URL").default(DEFAULT_URL))
    .addOption(new Option("--token <token>", "API token, sent as Authorization: Bearer <token>").env("STAGERUNNER_TOKEN"))
    .option("--json", "print the JSON response instead of human output")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      "\nA pipeline is named by its id or its name. Exit status: 0 success; 1 the run failed or was cancelled, or the API\n" +
        "refused; 2 usage; 3 the API could not be reached (after --retry-s of reconnecting while waiting); 130 Ctrl-C.",
    );
  for (const command of [...pipelineCommands(), ...followCommands(), ...runCommands()]) client.addCommand(command);
  return client;
}
