/**
 * Idempotency-Key on the POSTs that create (a pipeline, a run): the key as the client sent it, and a
 * fingerprint of the request it came with, so that a key reused with another request is told apart.
 */
import { createHash } from "node:crypto";
import { BadRequestError, ConflictError, HttpError } from "../api/errors.ts";
import type { Idempotent, IdempotencyKey } from "../store/store.ts";
import type { ApiRequest } from "./events.ts";

/** The request's Idempotency-Key with the fingerprint of `input` (the validated body); undefined without one. */
export function idempotencyKey(request: ApiRequest, input: unknown): IdempotencyKey | undefined {
  const key = request.headers["idempotency-key"];
  if (key === undefined) return undefined;
  if (key.length < 1 || key.length > 255 || !/^[\x21-\x7e][\x20-\x7e]*$/.test(key))
    throw new BadRequestError("Idempotency-Key is invalid", [{ path: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" }]);
  return { key, fingerprint: createHash("sha256").update(`${request.method} ${request.path}\n${JSON.stringify(input)}`).digest("base64url") };
}

/** What an idempotent request answers: the value (made now or before), or why not. */
export function idempotentValue<T>(result: Idempotent<T>, key: IdempotencyKey): { value: T; replayed: boolean } {
  if ("mismatch" in result) throw new HttpError(422, `Idempotency-Key ${JSON.stringify(key.key)} was used with a different request`);
  if ("gone" in result) throw new ConflictError(`what the request with Idempotency-Key ${JSON.stringify(key.key)} made no longer exists`);
  return result;
}

/** Says on a reply that it answers an earlier request again. */
export const replayHeaders = (replayed: boolean): Record<string, string> => (replayed ? { "Idempotent-Replayed": "true" } : {});
