/**
 * Opaque list cursors: the position (a sequence number) of the last item on the previous page.
 * base64url so that it travels in a query string untouched.
 */
import { BadRequestError } from "../api/errors.ts";

export function encodeCursor(position: number): string {
  return Buffer.from(`p${position}`).toString("base64url");
}

/** The position in a cursor; a cursor this server did not make is a 400. */
export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, "base64url").toString();
  const match = /^p(\d{1,15})$/.exec(text);
  if (!match) throw new BadRequestError("cursor is invalid", [{ path: "cursor", message: "not a cursor from this server" }]);
  return Number(match[1]);
}
