/** Token checks as the API applies them to the Authorization header. */
import { describe, expect, it } from "vitest";
import { generateToken, parseTokens, tokenChecker } from "../../../lib/http/auth.ts";

describe("tokenChecker", () => {
  const checker = tokenChecker(["s3cret-token"]);

  it("accepts the token raw and in the Bearer form", () => {
    expect(checker.accepts("s3cret-token")).toBe(true);
    expect(checker.accepts("Bearer s3cret-token")).toBe(true);
    expect(checker.accepts("bearer s3cret-token")).toBe(true);
    expect(checker.accepts("Bearer   s3cret-token ")).toBe(true);
  });

  it("accepts each of several tokens", () => {
    const several = tokenChecker(["alpha", "beta", "gamma"]);
    for (const token of ["alpha", "beta", "gamma"]) {
      expect(several.accepts(token)).toBe(true);
      expect(several.accepts(`Bearer ${token}`)).toBe(true);
    }
    expect(several.accepts("delta")).toBe(false);
  });

  it("compares bytes, so a token beyond ASCII matches itself only", () => {
    const unicode = tokenChecker(["tökén-✓"]);
    expect(unicode.accepts("Bearer tökén-✓")).toBe(true);
    for (const header of ["tökén-", "tökén-✓✓", "tokén-✓", "tökén-\u0000"]) expect(unicode.accepts(header), header).toBe(false);
  });

  it("rejects a missing, empty, wrong or differently long token without throwing", () => {
    for (const header of [undefined, "", " ", "Bearer", "Bearer ", "s3cret-tokeN", "s3cret-toke", "s3cret-token-and-more", "x", "Basic czNjcmV0LXRva2Vu", "Bearer Bearer s3cret-token", "s3cret-token, s3cret-token", "\u0000", "é".repeat(10_000)])
      expect(checker.accepts(header), JSON.stringify(header)?.slice(0, 40)).toBe(false);
  });

  it("rejects everything when no token is configured", () => {
    const none = tokenChecker([]);
    for (const header of [undefined, "", "Bearer ", "anything"]) expect(none.accepts(header)).toBe(false);
  });
});

describe("parseTokens", () => {
  it("splits a comma-separated list and drops blanks", () => {
    expect(parseTokens("a, b ,,c ,")).toEqual(["a", "b", "c"]);
    expect(parseTokens("")).toEqual([]);
    expect(parseTokens(" , ")).toEqual([]);
  });
});

describe("generateToken", () => {
  it("makes a fresh token that survives a header and a comma-separated list, and is accepted", () => {
    const a = generateToken();
    const b = generateToken();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parseTokens(a)).toEqual([a]);
    expect(tokenChecker([a]).accepts(`Bearer ${a}`)).toBe(true);
  });
});
