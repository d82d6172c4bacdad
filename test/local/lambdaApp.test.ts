/**
 * The one-function app (dist/app.mjs from local/lambdaApp.ts): every route through serverless-http,
 * answering each event kind in its own shape, with stage prefixes kept in links.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Context } from "aws-lambda";
import { eventKinds, type ClientRequest, type EventKindFixture } from "../handlers/eventFixtures.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";
import { seedPipeline } from "../support/fixtures.ts";

const context = { awsRequestId: "req", getRemainingTimeInMillis: () => 30_000 } as Context;

const environmentModule = "../../lib/config/environment.ts";

/**
 * A fresh module instance of the app with the environment a deployment would give it, but for its
 * store: a deployed function opens only PostgreSQL (test/handlers/bundles.test.ts runs dist/app.mjs
 * on it), and here an in-memory store stands in for it.
 */
async function appFor(fixture: EventKindFixture) {
  vi.resetModules();
  vi.doMock(environmentModule, () => ({ storeFromEnvironment: async () => new MemoryStore() }));
  vi.stubEnv("STAGERUNNER_TOKEN", "fn-token");
  vi.stubEnv("STAGERUNNER_BASE_PATH", fixture.stagePrefix);
  const { handler } = await import("../../local/lambdaApp.ts");
  // The catch-all route API Gateway matched: `/{proxy+}`.
  return async (request: ClientRequest): Promise<Record<string, any>> => {
    const path = request.path.slice(fixture.stagePrefix.length).split("?")[0]!;
    const result = (await handler(fixture.event(request, { path: "/{proxy+}", params: { proxy: path.slice(1) } }), context)) as Record<string, any>;
    return { ...result, json: result.body ? JSON.parse(result.body) : undefined };
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.doUnmock(environmentModule);
});

describe.each(eventKinds)("one-function app over $name events", (fixture) => {
  const auth = { Authorization: "fn-token" };
  it("creates, reads, pages with a followable link, and refuses a wrong token", async () => {
    const call = await appFor(fixture);
    const created = await call({ method: "POST", path: `${fixture.stagePrefix}/pipelines`, headers: auth, body: JSON.stringify(seedPipeline) });
    expect(created.statusCode).toBe(201);
    await call({ method: "POST", path: `${fixture.stagePrefix}/pipelines`, headers: auth, body: JSON.stringify(seedPipeline) });
    const got = await call({ method: "GET", path: `${fixture.stagePrefix}/pipelines/${created.json.id}`, headers: auth });
    expect(got.statusCode).toBe(200);
    expect(got.json).toEqual(created.json);
    if (fixture.kind === "alb") expect(got.statusDescription).toBe("200 OK");
    if (fixture.kind === "v2") expect(got).not.toHaveProperty("multiValueHeaders");

    const page = await call({ method: "GET", path: `${fixture.stagePrefix}/pipelines?limit=1`, headers: auth });
    const link = String(page.headers?.link ?? page.multiValueHeaders?.link?.[0] ?? "");
    const next = /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
    expect(next?.startsWith(`${fixture.stagePrefix}/pipelines?`)).toBe(true);
    expect((await call({ method: "GET", path: next!, headers: auth })).json).toHaveLength(1);

    const refused = await call({ method: "GET", path: `${fixture.stagePrefix}/pipelines`, headers: { Authorization: "wrong" } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json).toMatchObject({ status: 401 });
  });
});

it("answers a 500 problem naming DATABASE_URL when deployed without a store", async () => {
  vi.resetModules();
  vi.stubEnv("STAGERUNNER_TOKEN", "fn-token");
  vi.stubEnv("STAGERUNNER_STORE", "");
  vi.stubEnv("DATABASE_URL", "");
  const { handler } = await import("../../local/lambdaApp.ts");
  const fixture = eventKinds.find((k) => k.kind === "v2")!;
  const result = (await handler(fixture.event({ method: "GET", path: "/prod/pipelines", headers: { Authorization: "fn-token" } }, { path: "/{proxy+}", params: {} }), context)) as { statusCode: number; body: string };
  expect(result.statusCode).toBe(500);
  expect(JSON.parse(result.body).detail).toMatch(/DATABASE_URL/);
});
