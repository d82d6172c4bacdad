/** How the API client fails: the server said no (ApiError), or there was no usable answer (ConnectionError). */
import type { Problem } from "../../lib/api/schemas.ts";

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

/** The useful part of a fetch failure: undici puts the system error (ECONNREFUSED, ...) in `cause`. */
export function fetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (error instanceof DOMException && error.name === "TimeoutError") return "no answer in time";
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
