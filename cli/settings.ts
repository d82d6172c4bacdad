/**
 * Commander options made from lib/config settings, so each flag, its environment variable and its
 * default are written once. A command may say in its own words what a setting means to it.
 */
import { Option, type Command } from "commander";
import type { Setting } from "../lib/config/settings.ts";

/** What a command shows in --help instead of a setting's own description (and default, when given, undefined for none). */
export type HelpOverrides<S> = Partial<Record<keyof S, { description: string; default?: undefined }>>;

export function addSettings<S extends Record<string, Setting<unknown>>>(command: Command, settings: S, overrides: HelpOverrides<S> = {}): Command {
  for (const [key, s] of Object.entries(settings)) {
    const override = overrides[key as keyof S];
    const shownDefault = override && "default" in override ? override.default : s.default;
    const env = [s.env, s.fallbackEnv].filter(Boolean).join(" or ");
    // An empty default ("" for --from) means none: say nothing rather than "default ]".
    const defaults = shownDefault ? `, default ${shownDefault}` : "";
    const flag = s.switch ? `--${s.flag}` : `--${s.flag} <value>`;
    command.addOption(new Option(flag, `${override?.description ?? s.description} [env ${env}${defaults}]`));
  }
  return command;
}
