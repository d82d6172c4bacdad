/** The body step's checks, in the order it makes them: encoding, size, UTF-8, JSON. */
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, parseJsonBody } from "../../../lib/http/body.ts";

const refusal = (body: unknown, encoding?: string) => {
  try {
    parseJsonBody(body, encoding);
  } catch (error) {
    const { status, message } = error as { status: number; message: string };
    return [status, message];
  }
  return undefined;
};

describe("parseJsonBody", () => {
  it("parses text and UTF-8 bytes alike, and takes no body as undefined", () => {
    expect(parseJsonBody('{"a":"é"}', undefined)).toEqual({ a: "é" });
    expect(parseJsonBody(Buffer.from('{"a":"é"}'), " Identity ")).toEqual({ a: "é" });
    expect(parseJsonBody(undefined, "gzip")).toBeUndefined();
  });

  it("refuses a compressed body before looking at it, then one too large, then bytes that are not UTF-8", () => {
    expect(refusal("x".repeat(MAX_BODY_BYTES + 1), "deflate")).toEqual([415, "Content-Encoding deflate is not supported: send the body uncompressed"]);
    expect(refusal(Buffer.alloc(MAX_BODY_BYTES + 1, 0xff))).toEqual([413, `request body is larger than ${MAX_BODY_BYTES} bytes`]);
    expect(refusal("é".repeat(MAX_BODY_BYTES / 2 + 1))).toEqual([413, `request body is larger than ${MAX_BODY_BYTES} bytes`]);
    expect(refusal(Buffer.from([0x22, 0xc3, 0x22]))).toEqual([400, "request body is not valid UTF-8"]);
  });

  it("says where malformed JSON stops, in its own words", () => {
    expect(refusal('{"a": 1,')).toEqual([400, "request body is not valid JSON (at character 8)"]);
    expect(refusal("{")).toEqual([400, expect.stringMatching(/^request body is not valid JSON/)]);
  });
});
