/**
 * The shared middy stack on its own: the normalised request in the context, and errors through
 * @middy/http-error-handler as RFC 9457 problem+json in the event kind's result shape.
 */
import { createError } from "@middy/util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConflictError, HttpError, ServiceUnavailableError } from "../../../lib/api/errors.ts";
import { tokenChecker } from "../../../lib/http/auth.ts";
import { endpoint, type Endpoint } from "../../../lib/http/endpoint.ts";
import type { ApiEvent } from "../../../lib/http/events.ts";
import type { HandlerContext, Services } from "../../../lib/http/services.ts";
import { MemoryStore } from "../../../lib/store/memory/memoryStore.ts";
import { v2Event } from "../../handlers/invokers.ts";

const v1Event = (body?: string) =>
  ({ httpMethod: "POST", path: "/things", headers: { Authorization: "t" }, multiValueHeaders: { Authorization: ["t"] }, requestContext: { path: "/things" }, body: body ?? null }) as unknown as ApiEvent;

function invoke(fn: Endpoint, event: ApiEvent = v2Event("POST", "/things", "/things", {}, { authorization: "t" }), withServices = true) {
  const log = vi.fn();
  const services: Services = { store: new MemoryStore(), tokens: tokenChecker(["t"]), log };
  const context = (withServices ? { services } : {}) as HandlerContext;
  return { log, context, result: endpoint(fn)(event, context) as Promise<{ statusCode: number; headers: Record<string, string>; multiValueHeaders?: unknown; body: string }> };
}

const throwing = (error: unknown): Endpoint => async () => {
  throw error;
};

afterEach(() => vi.restoreAllMocks());

describe("endpoint errors", () => {
  it("gives HttpError the statusCode and expose that http-error-handler reads", () => {
    const error = new ConflictError("run is finished");
    expect([error.statusCode, error.expose, error.status]).toEqual([409, true, 409]);
  });

  it("answers an HttpError with its problem document, headers kept, nothing logged", async () => {
    const { result, log } = invoke(throwing(new ServiceUnavailableError("database unavailable", { retryAfterSeconds: 3 })));
    const answer = await result;
    expect(answer.statusCode).toBe(503);
    expect(answer.headers).toEqual({ "Retry-After": "3", "Content-Type": "application/problem+json" });
    expect(JSON.parse(answer.body)).toEqual({ type: "about:blank", title: "Service Unavailable", status: 503, detail: "database unavailable" });
    expect(log).not.toHaveBeenCalled();
  });

  it("answers anything unexpected with a bare 500 problem, logged to the services' log and not the console", async () => {
    const console = vi.spyOn(globalThis.console, "error").mockImplementation(() => {});
    for (const thrown of [new Error("secret detail"), "a string", Object.assign(new Error("not meant for clients"), { statusCode: 404 })]) {
      const { result, log } = invoke(throwing(thrown));
      const answer = await result;
      expect(answer.statusCode).toBe(500);
      expect(answer.headers["Content-Type"]).toBe("application/problem+json");
      expect(JSON.parse(answer.body)).toEqual({ type: "about:blank", title: "Internal Server Error", status: 500 });
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/^internal error: /));
    }
    expect(console).not.toHaveBeenCalled();
  });

  it("shows an exposed error of middy's own (statusCode, expose) as a problem with its message", async () => {
    const answer = await invoke(throwing(createError(422, "Unprocessable thing"))).result;
    expect([answer.statusCode, JSON.parse(answer.body).detail]).toEqual([422, "Unprocessable thing"]);
  });

  it("answers in a v1 event's shape, multiValueHeaders included", async () => {
    const answer = await invoke(throwing(new HttpError(418, "short and stout")), v1Event()).result;
    expect(answer).toEqual({
      statusCode: 418,
      headers: { "Content-Type": "application/problem+json" },
      multiValueHeaders: { "Content-Type": ["application/problem+json"] },
      body: JSON.stringify({ type: "about:blank", title: "I'm a Teapot", status: 418, detail: "short and stout" }),
    });
  });

  it("names the missing setting when a deployed function has none", async () => {
    vi.stubEnv("STAGERUNNER_TOKEN", "");
    // Without services there is no log but the console, which a deployed function's logs collect.
    const console = vi.spyOn(globalThis.console, "error").mockImplementation(() => {});
    const { result } = invoke(async () => ({ status: 200 }), undefined, false);
    const answer = await result;
    expect(answer.statusCode).toBe(500);
    expect(JSON.parse(answer.body).detail).toMatch(/^server misconfigured: STAGERUNNER_TOKEN is not set/);
    expect(console).toHaveBeenCalledWith(expect.stringMatching(/^internal error: ConfigError: STAGERUNNER_TOKEN/));
    vi.unstubAllEnvs();
  });
});

describe("endpoint request", () => {
  it("hands the endpoint the normalised request from the context, and leaves the event as it came", async () => {
    const event = v1Event('{"a": 1}');
    const before = structuredClone(event);
    const seen: unknown[] = [];
    const { result, context } = invoke(async (request) => (seen.push(request), { status: 204 }), event);
    expect((await result).statusCode).toBe(204);
    expect(seen).toEqual([context.apiRequest]);
    expect(context.apiRequest).toMatchObject({ method: "POST", path: "/things", body: { a: 1 }, headers: { authorization: "t" } });
    expect(event).toEqual(before);
  });
});
