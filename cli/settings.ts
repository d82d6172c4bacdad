/**
 * Commander options made from lib/config.ts settings, so each flag, its environment variable and its
 * default are written once.
 */
import { Option, type Command } from "commander";
import type { Setting } from "../lib/config/settings.ts";

export function addSettings(command: Command, settings: Record<string, Setting<unknown>>): Command {
  for (const s of Object.values(settings)) {
    const env = [s.env, s.fallbackEnv].filter(Boolean).join(" or ");
    const defaults = s.default !== undefined ? `, default ${s.default}` : "";
    command.addOption(new Option(`--${s.flag} <value>`, `${s.description} [env ${env}${defaults}]`));
  }
  return command;
}
