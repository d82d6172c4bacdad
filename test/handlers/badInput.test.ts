/**
 * Input the handlers refuse or normalise, over every event kind (eventFixtures.ts): repeated query
 * parameters, strict `?limit=`, upper-case UUIDs, bodies that are not UTF-8 or are compressed.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { tokenChecker } from "../../lib/http/auth.ts";
import type { ApiEvent } from "../../lib/http/events.ts";
import type { HandlerContext, Services } from "../../lib/http/services.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";
import { Pipeline, Problem, Run } from "../../lib/api/schemas.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { eventFor, eventKinds, readResult, type Answer, type ClientRequest } from "./eventFixtures.ts";

const TOKEN = "secret";

describe.each(eventKinds)("handlers over $name events refuse bad input", (fixture) => {
  let store: MemoryStore;
  beforeEach(() => void (store = new MemoryStore()));

  const call = async (request: ClientRequest, edit: (event: ApiEvent) => void = () => {}): Promise<Answer> => {
    const { route, event } = eventFor(fixture, { ...request, headers: { Authorization: TOKEN, ...request.headers } });
    edit(event);
    const services: Services = { store, tokens: tokenChecker([TOKEN]), log: () => {} };
    const context = { services } as HandlerContext;
    return readResult(fixture, await route.handler(event, context));
  };
  const problem = (answer: Answer, status: number) => {
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    return Problem.parse(answer.body);
  };
  const post = (body: string, headers: Record<string, string> = {}): ClientRequest => ({ method: "POST", path: "/pipelines", body, headers });

  it("answers 400 naming a repeated query parameter, percent-encoded or not", async () => {
    for (const query of ["limit=5&limit=1", "%6Cimit=5&limit=1", "status=queued&status=failed"]) {
      const answer = await call({ method: "GET", path: `/runs?${query}` });
      const name = query.startsWith("status") ? "status" : "limit";
      // Without multi-value headers ALB passes only the last value of a key it did not decode.
      if (fixture.kind === "alb" && !fixture.multiValueHeaders && query.startsWith(name)) {
        expect(answer.status, query).toBe(200);
        continue;
      }
      expect(problem(answer, 400), query).toMatchObject({ detail: `query parameter ${name} is repeated`, errors: [{ path: name, message: `${name} must be given once` }] });
    }
  });

  it("takes a comma inside one query value as that value, not as a repeat", async () => {
    const answer = problem(await call({ method: "GET", path: "/runs?status=queued%2Cfailed" }), 400);
    expect(answer.errors).toEqual([{ path: "status", message: expect.stringMatching(/^status must be one of queued, running/) }]);
  });

  it("takes ?limit= only as plain decimal digits", async () => {
    for (const limit of ["1e2", "0x10", "%2B5", "+5", "%205", "5.0", "", "-1"]) {
      const answer = problem(await call({ method: "GET", path: `/pipelines?limit=${limit}` }), 400);
      expect(answer.errors, limit).toEqual([{ path: "limit", message: "limit must be a whole number" }]);
    }
    expect((await call({ method: "GET", path: "/pipelines?limit=0010" })).status).toBe(200);
  });

  it("accepts upper-case UUIDs in paths and queries, as the lower-case ids they are", async () => {
    const created = await call(post(JSON.stringify(seedPipeline)));
    const pipeline = Pipeline.parse(created.body);
    const upper = pipeline.id.toUpperCase();
    expect((await call({ method: "GET", path: `/pipelines/${upper}` })).body).toEqual(pipeline);
    const triggered = await call({ method: "POST", path: `/pipelines/${upper}/trigger` });
    const run = Run.parse(triggered.body);
    expect(run.pipeline_id).toBe(pipeline.id);
    expect((await call({ method: "GET", path: `/runs/${run.id.toUpperCase()}` })).body).toEqual(run);
    expect((await call({ method: "GET", path: `/runs?pipeline_id=${upper}` })).body).toEqual([run]);
    const renamed = await call({ method: "PUT", path: `/pipelines/${upper}`, body: JSON.stringify({ ...seedPipeline, name: "renamed" }) });
    expect(renamed.body).toMatchObject({ id: pipeline.id, name: "renamed" });
    expect((await call({ method: "DELETE", path: `/pipelines/${upper}` })).status).toBe(204);
    expect(problem(await call({ method: "GET", path: `/pipelines/${pipeline.id}` }), 404).detail).toBe(`pipeline ${pipeline.id} not found`);
  });

  it("answers 400 for a base64 body that is not UTF-8, and stores nothing", async () => {
    // The seed pipeline with a 0xff byte inside its name: valid JSON once the byte is replaced by U+FFFD.
    const bytes = Buffer.from(JSON.stringify({ ...seedPipeline, name: "a?b" }));
    bytes[bytes.indexOf("a?b") + 1] = 0xff;
    const answer = await call(post(""), (event) => Object.assign(event, { body: bytes.toString("base64"), isBase64Encoded: true }));
    expect(problem(answer, 400).detail).toBe("request body is not valid UTF-8");
    expect((await store.listPipelines({ limit: 10 })).items).toEqual([]);
  });

  it("answers 415 for a compressed body, and takes Content-Encoding: identity", async () => {
    for (const encoding of ["gzip", "br", "GZIP"]) {
      const answer = problem(await call(post(JSON.stringify(seedPipeline), { "Content-Encoding": encoding })), 415);
      expect(answer.detail).toBe(`Content-Encoding ${encoding.toLowerCase()} is not supported: send the body uncompressed`);
    }
    expect((await store.listPipelines({ limit: 10 })).items).toEqual([]);
    expect((await call(post(JSON.stringify(seedPipeline), { "Content-Encoding": "identity" }))).status).toBe(201);
  });
});
