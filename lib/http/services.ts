/**
 * What a handler needs from the process around it: the store and the token check. The emulator
 * passes them in the invocation context; a deployed function builds them once from its environment.
 */
import type { Context } from "aws-lambda";
import { parseTokens, tokenChecker, type TokenChecker } from "../auth.ts";
import { ConfigError } from "../errors.ts";
import { MemoryStore } from "../memoryStore.ts";
import type { Store } from "../store.ts";

export interface Services {
  store: Store;
  tokens: TokenChecker;
  /** Where unexpected errors are logged. */
  log: (line: string) => void;
}

/** A Lambda context that may carry services (the emulator's and the tests' invocations do). */
export type HandlerContext = Context & { services?: Services };

let fromEnvironment: Services | undefined;

/**
 * Services for a deployed function, built on first use from the environment: STAGERUNNER_TOKEN is
 * required; the in-memory store must be asked for explicitly, since each function instance would
 * hold its own copy.
 */
export function servicesFromEnvironment(env: NodeJS.ProcessEnv = process.env): Services {
  if (fromEnvironment) return fromEnvironment;
  const tokens = parseTokens(env.STAGERUNNER_TOKEN ?? "");
  if (tokens.length === 0) throw new ConfigError("STAGERUNNER_TOKEN is not set: refusing to serve without a token");
  if (env.STAGERUNNER_STORE !== "memory")
    throw new ConfigError("no store configured: set STAGERUNNER_STORE=memory (each instance keeps its own state)");
  fromEnvironment = { store: new MemoryStore(), tokens: tokenChecker(tokens), log: console.error };
  return fromEnvironment;
}
