/**
 * Events no API Gateway sends but a hand-built adapter might: odd value types in headers, multi-value
 * maps and cookies, a non-string body. None may become a 500.
 */
import { expect, it } from "vitest";
import { routes } from "../../handlers/routes.ts";
import { tokenChecker } from "../../lib/http/auth.ts";
import type { HandlerContext, Services } from "../../lib/http/services.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";

const services: Services = { store: new MemoryStore(), tokens: tokenChecker(["t"]), log: () => {} };
const context = { services } as HandlerContext;
const listPipelines = routes.find((r) => r.name === "listPipelines")!.handler;
const createPipeline = routes.find((r) => r.name === "createPipeline")!.handler;
const v1 = (extra: object) =>
  ({ httpMethod: "GET", path: "/pipelines", resource: "/pipelines", headers: {}, requestContext: { path: "/pipelines" }, ...extra }) as never;

it.each([
  ["a number as a header value", { headers: { Authorization: 42 } }, 401],
  ["an array as a header value", { headers: { Authorization: ["t"] } }, 200],
  ["a string where multiValueHeaders wants an array", { multiValueHeaders: { Authorization: "t" } }, 200],
  ["a string where multiValueQueryStringParameters wants an array", { headers: { authorization: "t" }, multiValueQueryStringParameters: { limit: "2" } }, 200],
  ["null headers", { headers: null }, 401],
])("answers %s without a 500", async (_what, extra, status) => {
  const result = (await listPipelines(v1(extra), context)) as { statusCode: number };
  expect(result.statusCode).toBe(status);
});

it("reads a non-string body marked base64 as a bad request, not a crash", async () => {
  const event = v1({ httpMethod: "POST", headers: { authorization: "t" }, body: { name: 1 }, isBase64Encoded: true });
  expect(((await createPipeline(event, context)) as { statusCode: number }).statusCode).toBe(400);
});
