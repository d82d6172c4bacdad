/**
 * `stagerunner server`'s settings: the HTTP ones and every worker setting (workerSettings.ts), since
 * the server runs its own worker pool.
 */
import * as z from "zod/mini";
import { parseTokens } from "../http/auth.ts";
import { loadConfig, setting, trimmed, whole, type ConfigOf } from "./settings.ts";
import { workerSettings } from "./workerSettings.ts";

/** `stagerunner server`: the worker settings and the HTTP ones. */
export const serverSettings = {
  host: setting({ flag: "host", env: "STAGERUNNER_HOST", default: "127.0.0.1", description: "address to listen on", schema: trimmed(z.minLength(1, "must not be empty")) }),
  port: setting({ flag: "port", env: "STAGERUNNER_PORT", default: "8080", description: "port to listen on (0: any free port)", schema: whole(0, 65535) }),
  token: setting({
    flag: "token",
    env: "STAGERUNNER_TOKEN",
    default: undefined,
    description: "accepted API token(s), comma-separated; one is generated and printed when none is set",
    schema: z.pipe(z.string(), z.transform(parseTokens)),
  }),
  ...workerSettings,
  from: setting({
    flag: "from",
    env: "STAGERUNNER_FROM",
    default: "",
    description: "serve the built bundles of this directory (npm run build writes dist/) instead of the sources",
    schema: trimmed(),
  }),
  basePath: setting({
    flag: "base-path",
    env: "STAGERUNNER_BASE_PATH",
    default: "",
    description: "serve every route under this stage prefix, e.g. /prod",
    schema: trimmed(z.regex(/^(\/[A-Za-z0-9._~-]+)?$/, "must be empty or one path segment such as /prod")),
  }),
};

export type ServerConfig = ConfigOf<typeof serverSettings>;

export const loadServerConfig = (flags: Partial<Record<keyof typeof serverSettings, string | boolean>>, env?: NodeJS.ProcessEnv): ServerConfig =>
  loadConfig(serverSettings, flags, env);
