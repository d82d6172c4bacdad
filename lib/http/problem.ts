/**
 * The one place where errors become responses: RFC 9457 problem details for HttpError, a bare 500
 * (logged, never exposed) for anything else.
 */
import { STATUS_CODES } from "node:http";
import { coerceError, ConfigError, HttpError } from "../api/errors.ts";
import type { Problem } from "../api/schemas.ts";

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function problemResult(thrown: unknown, log: (line: string) => void = console.error): HttpResult {
  const error = coerceError(thrown);
  if (error instanceof HttpError) {
    const problem: Problem = {
      type: "about:blank",
      title: STATUS_CODES[error.status] ?? "Error",
      status: error.status,
      detail: error.message,
      ...(error.errors ? { errors: error.errors } : {}),
    };
    return {
      statusCode: error.status,
      headers: { ...error.headers, "Content-Type": "application/problem+json" },
      body: JSON.stringify(problem),
    };
  }
  log(`internal error: ${error.stack ?? error.message}`);
  // A function deployed without its settings says which one is missing; any other failure says nothing.
  const problem: Problem = {
    type: "about:blank",
    title: "Internal Server Error",
    status: 500,
    ...(error instanceof ConfigError ? { detail: `server misconfigured: ${error.message}` } : {}),
  };
  return { statusCode: 500, headers: { "Content-Type": "application/problem+json" }, body: JSON.stringify(problem) };
}
