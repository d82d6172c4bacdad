/**
 * The request body as JSON, whatever its Content-Type says (`curl -d` sends form-urlencoded): an
 * uncompressed body of at most 1 MiB, in UTF-8, holding valid JSON; a 415, 413 or 400 otherwise.
 */
import { isUtf8 } from "node:buffer";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../api/errors.ts";

/** Largest request body accepted: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Parses `body` (text, or bytes from a base64 event); undefined when there is none. Compressed bodies
 * are refused rather than inflated: no client of this API compresses, and inflating would need a cap
 * on the inflated size too.
 */
export function parseJsonBody(body: unknown, contentEncoding: string | undefined): unknown {
  if (body === undefined) return undefined;
  const encoding = contentEncoding?.trim().toLowerCase();
  if (encoding && encoding !== "identity") throw new UnsupportedMediaTypeError(encoding);
  const bytes = Buffer.isBuffer(body) ? body.length : Buffer.byteLength(String(body));
  if (bytes > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  if (Buffer.isBuffer(body) && !isUtf8(body)) throw new BadRequestError("request body is not valid UTF-8");
  const text = Buffer.isBuffer(body) ? body.toString("utf8") : String(body);
  try {
    return JSON.parse(text);
  } catch (thrown) {
    // V8's message ends with where it stopped ("... in JSON at position 13"); the rest is V8's wording.
    const at = /at position (\d+)/.exec((thrown as Error).message)?.[1];
    throw new BadRequestError(`request body is not valid JSON${at === undefined ? "" : ` (at character ${at})`}`);
  }
}
