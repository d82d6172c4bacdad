/**
 * How the client fails, and the one mapping from a failure to an exit status: the server said no
 * (ApiError), there was no usable answer (ConnectionError), or the client itself refuses (CommandError).
 */
import type { Problem } from "../../lib/api/schemas.ts";

/** Exit statuses, one meaning each; scripts branch on them (README, "Walk-through with the CLI"). */
export const EXIT = { success: 0, failed: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

/** The server answered with a problem (any non-2xx status). */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.name = "ApiError";
  }
}

/** No usable answer: connection refused, DNS failure, timeout, or a response that is not the API's. */
export class ConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/** What the user asked for cannot be done, found out by the client (no pipeline of that name, ...): exit 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

/**
 * No answer from the API itself: nothing answered, something that is not the API answered, or the API
 * (or its gateway) said it cannot serve now (5xx). Worth retrying while following; exit 3 otherwise.
 */
export function isUnreachable(error: unknown): boolean {
  return error instanceof ConnectionError || (error instanceof ApiError && error.problem.status >= 500);
}

/** The useful part of a fetch failure: undici puts the system error (ECONNREFUSED, ...) in `cause`. */
export function fetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (error instanceof DOMException && error.name === "TimeoutError") return "no answer in time";
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
