/**
 * What a handler needs from the process around it: the store and the token check. The emulator
 * passes them in the invocation context; a deployed function builds them once from its environment.
 */
import type { Context } from "aws-lambda";
import { parseTokens, tokenChecker, type TokenChecker } from "./auth.ts";
import { ConfigError } from "../api/errors.ts";
import type { ApiRequest } from "./events.ts";
import { storeFromEnvironment } from "../config/environment.ts";
import type { Store } from "../store/store.ts";

export interface Services {
  store: Store;
  tokens: TokenChecker;
  /** Where unexpected errors are logged. */
  log: (line: string) => void;
}

/**
 * A Lambda context, one per invocation as Lambda passes it: it may arrive carrying services (the
 * emulator's and the tests' invocations do), and the stack adds the normalised request.
 */
export type HandlerContext = Context & { services?: Services; apiRequest?: ApiRequest };

let fromEnvironment: Promise<Services> | undefined;

/**
 * Services for a deployed function, built on first use from the environment: STAGERUNNER_TOKEN is
 * required, and the store comes from DATABASE_URL (lib/config/environment.ts).
 */
export function servicesFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<Services> {
  return (fromEnvironment ??= (async () => {
    const tokens = parseTokens(env.STAGERUNNER_TOKEN ?? "");
    if (tokens.length === 0) throw new ConfigError("STAGERUNNER_TOKEN is not set: refusing to serve without a token");
    return { store: await storeFromEnvironment(env), tokens: tokenChecker(tokens), log: console.error };
  })().catch((error: unknown) => {
    fromEnvironment = undefined;
    throw error;
  }));
}
