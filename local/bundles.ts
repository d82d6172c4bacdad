/**
 * Serving the built bundles (`stagerunner server --from dist`): each route's handler is loaded from
 * dist/handlers/<name>.mjs and invoked warm, in process, as a warm Lambda would be. Like deployed
 * functions, the bundles build their services from the environment, so they share state only
 * through PostgreSQL.
 */
import { access } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Route } from "../handlers/routes.ts";
import type { ServerConfig } from "../lib/config/serverSettings.ts";
import { ConfigError } from "../lib/api/errors.ts";
import type { InvokeHandler } from "./app.ts";

export async function loadBundles(config: ServerConfig, tokens: string[]): Promise<(route: Route) => InvokeHandler> {
  if (config.store.kind !== "postgres")
    throw new ConfigError("--from: every bundle would keep its own in-memory state; use --store postgres://... (or DATABASE_URL)");
  const dir = resolve(config.from, "handlers");
  // What a deployed function reads (lib/config/environment.ts); set before the bundles load.
  process.env.DATABASE_URL = config.store.url;
  process.env.STAGERUNNER_TOKEN = tokens.join(",");
  delete process.env.STAGERUNNER_STORE;
  const { routes } = await import("../handlers/routes.ts");
  const handlers = new Map<string, InvokeHandler>();
  for (const { name } of routes) {
    const file = `${dir}/${name}.mjs`;
    await access(file).catch(() => {
      throw new ConfigError(`--from: ${file} is missing; run npm run build first`);
    });
    const module = (await import(pathToFileURL(file).href)) as { handler?: InvokeHandler };
    if (typeof module.handler !== "function") throw new ConfigError(`--from: ${file} does not export a handler`);
    handlers.set(name, module.handler);
  }
  return (route) => handlers.get(route.name)!;
}
