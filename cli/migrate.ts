/**
 * `stagerunner migrate`: brings a PostgreSQL database's schema up to date (servers and workers also do
 * this at start). Applying it twice changes nothing.
 */
import { Command } from "commander";
import { ConfigError } from "../lib/api/errors.ts";
import { loadConfig, migrateSettings, redactUrl } from "../lib/config/settings.ts";
import { addSettings } from "./settings.ts";

export function migrateCommand(): Command {
  const command = new Command("migrate").description("apply the PostgreSQL schema").exitOverride();
  return addSettings(command, migrateSettings).action(async (flags: Record<string, string | undefined>) => {
    const { store } = loadConfig(migrateSettings, flags);
    if (store.kind !== "postgres") throw new ConfigError("--store: migrate needs a postgres:// URL (or DATABASE_URL)");
    const { migrate } = await import("../lib/store/pg/schema/migrate.ts");
    const { atStartUp } = await import("../lib/store/openStore.ts");
    const result = await atStartUp(store.url, () => migrate(store.url));
    console.log(
      result.applied.length
        ? `${redactUrl(store.url)}: applied migration(s) ${result.applied.join(", ")}; schema at version ${result.version}`
        : `${redactUrl(store.url)}: schema already at version ${result.version}; nothing to do`,
    );
  });
}
