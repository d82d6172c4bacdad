/**
 * The Express boundary: a request becomes the v2 event API Gateway would deliver.
 */
import type { Request } from "express";
import { afterEach, describe, expect, it, vi } from "vitest";
import { expressRequestToEvent } from "../../local/adapter.ts";

const request = (target: string, headers: Record<string, string>): Request =>
  ({ originalUrl: target, headers, method: "GET", httpVersion: "1.1", socket: { remoteAddress: "127.0.0.1" }, params: { id: "p1" } }) as unknown as Request;

describe("expressRequestToEvent", () => {
  it("takes the domain from the Host header without its port, IPv6 literals included, and localhost without one", () => {
    const domains = ["example.com:3000", "api.example.com", "[::1]:8080", ""].map(
      (host) => expressRequestToEvent(request("/pipelines/p1", host ? { host } : {}), "GET /pipelines/{id}").requestContext,
    );
    expect(domains.map((c) => [c.domainName, c.domainPrefix])).toEqual([
      ["example.com", "example"],
      ["api.example.com", "api"],
      ["[::1]", "[::1]"],
      ["localhost", "localhost"],
    ]);
  });

  it("splits path and query, joins repeated parameters with commas, and keeps the path parameters", () => {
    const event = expressRequestToEvent(request("/runs?status=queued&x=1&x=2", { host: "h" }), "GET /runs");
    expect([event.rawPath, event.rawQueryString, event.queryStringParameters, event.pathParameters]).toEqual([
      "/runs",
      "status=queued&x=1&x=2",
      { status: "queued", x: "1,2" },
      { id: "p1" },
    ]);
  });

  it("takes the body its parser read, as text, and a wildcard parameter as one value", () => {
    const post = Object.assign(request("/pipelines", { host: "h" }), { method: "POST", body: Buffer.from('{"name":"x"}') });
    expect(expressRequestToEvent(post, "POST /pipelines").body).toBe('{"name":"x"}');
    expect(expressRequestToEvent(request("/runs", { host: "h" }), "GET /runs").body).toBeUndefined();
    // Bytes that are not UTF-8 go base64, as API Gateway sends a binary body, for the handler to refuse.
    const binary = Object.assign(request("/pipelines", { host: "h" }), { method: "POST", body: Buffer.from([0x7b, 0xff, 0x7d]) });
    expect(expressRequestToEvent(binary, "POST /pipelines")).toMatchObject({ body: "e/99", isBase64Encoded: true });
    expect(expressRequestToEvent(post, "POST /pipelines").isBase64Encoded).toBe(false);
    const splat = Object.assign(request("/files/a/b", { host: "h" }), { params: { path: ["a", "b"] } }) as unknown as Request;
    expect(expressRequestToEvent(splat, "GET /files/{path+}").pathParameters).toEqual({ path: "a/b" });
  });

  describe("request time", () => {
    afterEach(() => void vi.useRealTimers());

    it("is stamped as API Gateway writes it, to the second, and moves with the clock", () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      const at = (ms: number) => (vi.setSystemTime(ms), expressRequestToEvent(request("/runs", { host: "h" }), "GET /runs").requestContext);
      const first = Date.UTC(2026, 11, 7, 0, 13, 34, 500);
      expect(at(first)).toMatchObject({ time: "07/Dec/2026:00:13:34 +0000", timeEpoch: first });
      expect(at(first + 499).time).toBe("07/Dec/2026:00:13:34 +0000");
      expect(at(first + 500).time).toBe("07/Dec/2026:00:13:35 +0000");
      expect(at(Date.UTC(2027, 0, 1, 9, 5, 0)).time).toBe("01/Jan/2027:09:05:00 +0000");
    });
  });
});
