/**
 * Token checks. Both sides are hashed to SHA-256 before `timingSafeEqual`, which throws on inputs of
 * different lengths; hashing makes every comparison 32 bytes, so a token's length does not leak and
 * no header can turn into a 500. Every configured token is compared, so the time does not say which.
 */
// A namespace import: crypto.hash is looked up at run time, as Node before 20.12 lacks it.
import * as crypto from "node:crypto";

/**
 * SHA-256 in one call where Node has crypto.hash (20.12 and later): a Hash object per request was 5% of
 * the emulator's CPU under load.
 */
const digest: (value: string) => Buffer =
  typeof crypto.hash === "function"
    ? (value) => crypto.hash("sha256", value, "buffer")
    : (value) => crypto.createHash("sha256").update(value).digest();

export interface TokenChecker {
  /** True when the Authorization header value carries one of the tokens (raw or `Bearer <token>`). */
  accepts(authorization: string | undefined): boolean;
}

export function tokenChecker(tokens: readonly string[]): TokenChecker {
  const digests = tokens.map(digest);
  return {
    accepts(authorization) {
      if (!authorization || digests.length === 0) return false;
      const presented = digest(authorization.replace(/^Bearer\s+/i, "").trim());
      let ok = false;
      for (const d of digests) ok = crypto.timingSafeEqual(d, presented) || ok;
      return ok;
    },
  };
}

/** Splits a comma-separated token list, dropping blanks. */
export const parseTokens = (value: string): string[] =>
  value
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

/** A fresh token for a server started without one: 32 random bytes, base64url. */
export const generateToken = (): string => crypto.randomBytes(32).toString("base64url");
