/**
 * The one place where errors become responses: RFC 9457 problem details for an error meant for the
 * client (an HttpError), a bare 500 (logged, never exposed) for anything else. The middy stack sends
 * them through @middy/http-error-handler (see endpoint.ts); the emulator's own 404, 405 and 413 use
 * problemResult.
 */
import { STATUS_CODES } from "node:http";
import { coerceError, ConfigError, type FieldError, type HttpError } from "../api/errors.ts";
import type { Problem } from "../api/schemas.ts";

export const PROBLEM_JSON = "application/problem+json";

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The error as @middy/http-error-handler sends it: the problem document is its message. */
export interface ExposedError {
  statusCode: number;
  expose: true;
  headers: Record<string, string>;
  message: string;
  cause: Error;
}

const problemDocument = (status: number, detail?: string, errors?: FieldError[]): Problem => ({
  type: "about:blank",
  title: STATUS_CODES[status] ?? "Error",
  status,
  ...(detail === undefined ? {} : { detail }),
  ...(errors ? { errors } : {}),
});

/** The body of every unexpected failure: a 500 that says nothing more. */
export const INTERNAL_ERROR_BODY = JSON.stringify(problemDocument(500));

/**
 * Whatever was thrown, as the problem it shows the client; undefined (after logging it) when it is
 * not meant for the client. An error in the http-errors convention (a numeric `statusCode` and
 * `expose`, as HttpError and middy's own errors carry) shows its message as the detail.
 */
export function exposedError(thrown: unknown, log: (line: string) => void): ExposedError | undefined {
  const error = coerceError(thrown);
  const { statusCode, expose, headers, errors } = error as Partial<HttpError>;
  if (typeof statusCode === "number" && expose === true) return exposed(error, statusCode, error.message, { ...headers }, errors);
  log(`internal error: ${error.stack ?? error.message}`);
  // A function deployed without its settings says which one is missing; any other failure says nothing.
  return error instanceof ConfigError ? exposed(error, 500, `server misconfigured: ${error.message}`) : undefined;
}

const exposed = (cause: Error, statusCode: number, detail: string, headers: Record<string, string> = {}, errors?: FieldError[]): ExposedError => ({
  statusCode,
  expose: true,
  headers,
  message: JSON.stringify(problemDocument(statusCode, detail, errors)),
  cause,
});

/** A problem result for whatever was thrown, outside the middy stack (the emulator's own answers). */
export function problemResult(thrown: unknown, log: (line: string) => void = console.error): HttpResult {
  const exposed = exposedError(thrown, log);
  const statusCode = exposed?.statusCode ?? 500;
  return { statusCode, headers: { ...exposed?.headers, "Content-Type": PROBLEM_JSON }, body: exposed?.message ?? INTERNAL_ERROR_BODY };
}
