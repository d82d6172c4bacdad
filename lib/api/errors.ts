/**
 * Typed errors that carry their HTTP status. They are turned into RFC 9457 problem details in one
 * place (lib/http/problem.ts); handlers and lib only throw them.
 */
import type * as z from "zod/mini";

export interface FieldError {
  path: string;
  message: string;
}

export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly errors: FieldError[] | undefined;
  /** Meant for the client, 5xx included (the `cause` is not): what @middy/http-error-handler reads. */
  readonly expose = true;
  constructor(status: number, message: string, opts: { headers?: Record<string, string>; errors?: FieldError[]; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.headers = opts.headers ?? {};
    this.errors = opts.errors;
  }

  /** The status under the name @middy/http-error-handler reads. */
  get statusCode(): number {
    return this.status;
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string, errors?: FieldError[]) {
    super(400, message, errors ? { errors } : {});
  }
}

/** A zod failure as a 400 whose `errors` name each bad field by its dotted path. */
export class ValidationError extends BadRequestError {
  constructor(what: string, error: z.core.$ZodError) {
    const errors = error.issues.flatMap((issue) =>
      // One entry per unknown key, each named by its own path.
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => ({ path: dotted([...issue.path, key]), message: "unknown field" }))
        : [{ path: dotted(issue.path), message: issue.message }],
    );
    // When the input as a whole is wrong (no body at all, an array), that is the detail.
    const [only] = errors;
    super(errors.length === 1 && only!.path === ROOT ? only!.message : `${what} is invalid`, errors);
  }
}

const ROOT = "(root)";
const dotted = (path: PropertyKey[]): string => path.map(String).join(".") || ROOT;

export class UnauthorizedError extends HttpError {
  constructor(message = "missing or invalid token") {
    super(401, message, { headers: { "WWW-Authenticate": 'Bearer realm="stagerunner"' } });
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, message);
  }
}

export class MethodNotAllowedError extends HttpError {
  constructor(method: string, allow: string[]) {
    super(405, `method ${method} is not allowed here; allowed: ${allow.join(", ")}`, {
      headers: { Allow: allow.join(", ") },
    });
  }
}

export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, message);
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(limitBytes: number) {
    super(413, `request body is larger than ${limitBytes} bytes`);
  }
}

/** A request body sent with a Content-Encoding other than identity. */
export class UnsupportedMediaTypeError extends HttpError {
  constructor(encoding: string) {
    super(415, `Content-Encoding ${encoding} is not supported: send the body uncompressed`);
  }
}

/**
 * A dependency the request needs (the database) cannot be reached right now; the client may retry.
 * The connection error is kept as `cause` for the log, never sent to the client.
 */
export class ServiceUnavailableError extends HttpError {
  constructor(message = "database unavailable", opts: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(503, message, { cause: opts.cause, headers: { "Retry-After": String(opts.retryAfterSeconds ?? 5) } });
  }
}

/** A write by a worker whose claim on a run is no longer current (run cancelled, or taken over). */
export class StaleClaimError extends Error {
  constructor(runId: string, why: string) {
    super(`claim on run ${runId} is no longer valid: ${why}`);
    this.name = "StaleClaimError";
  }
}

/** A run stopped because the process executing it shuts down (or has no time left for its next stage). */
export class ShutdownAbort extends Error {
  constructor(message = "the process running it shut down before the run finished") {
    super(message);
    this.name = "ShutdownAbort";
  }
}

/** A run stopped because a cancel of it was asked for; the message is the run's error. */
export class CancelRequested extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CancelRequested";
  }
}

/** A bad flag or environment value; reported as one line at start-up. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Whatever was thrown, as an Error with a non-empty message; the original is kept as `cause`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) {
    if (!thrown.message) thrown.message = thrown.name || "unknown error";
    return thrown;
  }
  const message = typeof thrown === "string" && thrown ? thrown : `non-error thrown: ${safeString(thrown)}`;
  return new Error(message, { cause: thrown });
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
