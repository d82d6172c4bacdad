/** The body step's checks, in the order it makes them: size, then JSON. */
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, parseJsonBody } from "../../../lib/http/body.ts";

const refusal = (body: unknown) => {
  try {
    parseJsonBody(body);
  } catch (error) {
    const { status, message } = error as { status: number; message: string };
    return [status, message];
  }
  return undefined;
};

describe("parseJsonBody", () => {
  it("parses the text, and takes no body as undefined", () => {
    expect(parseJsonBody('{"a":"é"}')).toEqual({ a: "é" });
    expect(parseJsonBody(undefined)).toBeUndefined();
  });

  it("refuses a body over 1 MiB, counted in UTF-8 bytes", () => {
    expect(refusal("é".repeat(MAX_BODY_BYTES / 2 + 1))).toEqual([413, `request body is larger than ${MAX_BODY_BYTES} bytes`]);
  });

  it("says where malformed JSON stops, in its own words", () => {
    expect(refusal('{"a": 1,')).toEqual([400, "request body is not valid JSON (at character 8)"]);
    expect(refusal("{")).toEqual([400, expect.stringMatching(/^request body is not valid JSON/)]);
  });
});
