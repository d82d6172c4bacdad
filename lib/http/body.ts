/**
 * The request body as JSON, whatever its Content-Type says (`curl -d` sends form-urlencoded): at
 * most 1 MiB of valid JSON; a 413 or 400 otherwise.
 */
import { BadRequestError, PayloadTooLargeError } from "../api/errors.ts";

/** Largest request body accepted: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Parses the body text; undefined when there is none. */
export function parseJsonBody(body: unknown): unknown {
  if (body === undefined) return undefined;
  const text = String(body);
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch (thrown) {
    // V8's message ends with where it stopped ("... in JSON at position 13"); the rest is V8's wording.
    const at = /at position (\d+)/.exec((thrown as Error).message)?.[1];
    throw new BadRequestError(`request body is not valid JSON${at === undefined ? "" : ` (at character ${at})`}`);
  }
}
