/**
 * Every handler over every event kind (lib/http/events.ts), invoked with the events each kind's sender
 * builds and answering in that kind's exact result shape: over the handlers from the route table (in
 * memory), and over the built bundles in a fresh process sharing PostgreSQL as deployed functions do
 * (with STAGERUNNER_TEST_DATABASE_URL).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { routes } from "../../handlers/routes.ts";
import { tokenChecker } from "../../lib/http/auth.ts";
import type { ApiEvent } from "../../lib/http/events.ts";
import type { ApiResult } from "../../lib/http/results.ts";
import type { HandlerContext, Services } from "../../lib/http/services.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";
import { migrate } from "../../lib/store/pg/schema/migrate.ts";
import { Pipeline, Problem, Run } from "../../lib/api/schemas.ts";
import { buildBundles } from "../../local/build.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { adminQuery, PG_SKIP_REASON, pgTestUrl } from "../support/pgTestDatabase.ts";
import { Host } from "./bundleHostClient.ts";
import { eventFor, eventKinds, readResult, type Answer, type ClientRequest } from "./eventFixtures.ts";

const TOKEN = "secret";
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

/** Where the handlers run: `invoke` calls a route's handler with an event; `reset` empties the store. */
interface Target {
  invoke(routeName: string, event: ApiEvent): Promise<ApiResult>;
  reset(): Promise<void>;
}

function sources(): Target {
  let context: HandlerContext;
  return {
    invoke: async (name, event) => routes.find((r) => r.name === name)!.handler(event, context),
    reset: async () => {
      const services: Services = { store: new MemoryStore(), tokens: tokenChecker([TOKEN]), log: () => {} };
      context = { services } as HandlerContext;
    },
  };
}

/** The built bundles in a bundleHost.mjs process, on a fresh PostgreSQL database emptied before each test. */
function bundlesOnPostgres(): Target & { start(): Promise<void>; stop(): Promise<void> } {
  const name = `sr_events_${randomBytes(4).toString("hex")}`;
  let dist = "";
  let url = "";
  let host: Host;
  return {
    async start() {
      dist = await mkdtemp(join(tmpdir(), "stagerunner-events-"));
      await buildBundles(dist);
      await adminQuery(`CREATE DATABASE ${name}`);
      const u = new URL(pgTestUrl!);
      u.pathname = `/${name}`;
      url = u.toString();
      await migrate(url);
      host = new Host(dist, { DATABASE_URL: url, STAGERUNNER_TOKEN: TOKEN, STAGERUNNER_DB_POOL_SIZE: "2" });
    },
    async stop() {
      await host?.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await rm(dist, { recursive: true, force: true });
    },
    invoke: async (routeName, event) => (await host.invoke(routeName, event)) as ApiResult,
    reset: async () => {
      const pg = (await import("pg")).default;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query("TRUNCATE runs, pipelines, idempotency_keys CASCADE");
      await client.end();
    },
  };
}

const onPostgres = bundlesOnPostgres();
const targets: [string, Target][] = [["sources", sources()]];
if (pgTestUrl) {
  targets.push(["bundles on PostgreSQL", onPostgres]);
  beforeAll(() => onPostgres.start(), 120_000);
  afterAll(() => onPostgres.stop());
} else {
  describe.skip(`the event suite over the built bundles (${PG_SKIP_REASON})`, () => it("needs PostgreSQL", () => {}));
}

describe.each(targets.flatMap(([where, target]) => eventKinds.map((fixture) => ({ where, target, fixture, name: fixture.name }))))(
  "handlers ($where) over $name events",
  ({ target, fixture }) => {
  const stage = fixture.stagePrefix;

  beforeEach(() => target.reset());

  /** Builds the event for `request` (whose path is stage-less), invokes the route's handler, checks the result's shape. */
  const invoke = async (request: ClientRequest, edit: (event: ApiEvent) => void = () => {}): Promise<Answer> => {
    const { route, event } = eventFor(fixture, request);
    edit(event);
    return readResult(fixture, await target.invoke(route.name, event));
  };
  const call = (request: ClientRequest) => invoke({ ...request, headers: { AuthoriZation: `Bearer ${TOKEN}`, ...request.headers } });
  const json = (body: unknown, base64 = false) => ({ body: JSON.stringify(body), base64, headers: { "CONTENT-type": "application/json" } });
  const expectProblem = (answer: Answer, status: number) => {
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    return Problem.parse(answer.body);
  };
  const create = async (body: unknown = seedPipeline) => {
    const answer = await call({ method: "POST", path: "/pipelines", ...json(body) });
    expect(answer.status).toBe(201);
    return Pipeline.parse(answer.body);
  };

  it.each([false, true])("creates a pipeline from a JSON body (base64: %s) and gets it back", async (base64) => {
    const answer = await call({ method: "POST", path: "/pipelines", ...json(seedPipeline, base64) });
    expect(answer.status).toBe(201);
    const pipeline = Pipeline.parse(answer.body);
    expect(pipeline).toMatchObject(seedPipeline);
    expect(answer.headers.location).toBe(`${stage}/pipelines/${pipeline.id}`);
    expect(answer.headers["content-type"]).toBe("application/json");
    const got = await call({ method: "GET", path: `/pipelines/${pipeline.id}` });
    expect(got).toMatchObject({ status: 200, body: pipeline });
  });

  it("lists with pagination, the Link header carrying the path the client used", async () => {
    const created = [await create(), await create({ ...seedPipeline, name: "two" }), await create({ ...seedPipeline, name: "three" })];
    const first = await call({ method: "GET", path: "/pipelines?limit=2" });
    expect(first.body).toEqual(created.slice(0, 2));
    const next = /^<([^>]+)>; rel="next"$/.exec(first.headers.link ?? "")?.[1];
    expect(next).toMatch(new RegExp(`^${stage}/pipelines\\?limit=2&cursor=`));
    const rest = await call({ method: "GET", path: next!.slice(stage.length) });
    expect(rest.body).toEqual(created.slice(2));
    expect(rest.headers.link).toBeUndefined();
  });

  it("decodes percent-encoded query strings, and takes repeated keys the way the kind delivers them", async () => {
    await create();
    await create({ ...seedPipeline, name: "two" });
    // API Gateway decodes query strings; ALB passes them encoded.
    expect((await call({ method: "GET", path: "/pipelines?%6Cimit=%31" })).body).toHaveLength(1);
    const answer = await call({ method: "GET", path: "/pipelines?limit=5&limit=1" });
    if (fixture.kind === "alb" && !fixture.multiValueHeaders) {
      // Without multi-value headers ALB passes only the last value.
      expect(answer.body).toHaveLength(1);
    } else {
      // Every other kind shows the repeat (v2 in rawQueryString): which value was meant is unknown.
      expect(expectProblem(answer, 400).errors).toEqual([{ path: "limit", message: "limit must be given once" }]);
    }
  });

  it("triggers a run with no body, a null body, and a git_ref in plain and base64 form", async () => {
    const pipeline = await create();
    const trigger = (request: Omit<ClientRequest, "method" | "path">) => call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, ...request });
    for (const request of [{}, { body: null }, { body: "" }]) {
      const answer = await trigger(request);
      expect(answer.status).toBe(202);
      expect(Run.parse(answer.body).git_ref).toBe("main");
    }
    for (const base64 of [false, true]) {
      const answer = await trigger(json({ git_ref: "feature/x" }, base64));
      expect(answer.status).toBe(202);
      const run = Run.parse(answer.body);
      expect(run).toMatchObject({ pipeline_id: pipeline.id, git_ref: "feature/x", status: "queued" });
      expect(answer.headers.location).toBe(`${stage}/runs/${run.id}`);
      expect((await call({ method: "GET", path: `/runs/${run.id}` })).body).toEqual(run);
    }
  });

  it("answers 401 without a token or with a wrong one, in the kind's shape", async () => {
    const attempts: Record<string, string>[] = [{}, { Authorization: "wrong" }, { AUTHORIZATION: `Bearer ${TOKEN}x` }];
    for (const headers of attempts) {
      const problem = expectProblem(await invoke({ method: "GET", path: "/pipelines", headers }), 401);
      expect(problem.title).toBe("Unauthorized");
    }
    expect((await invoke({ method: "GET", path: "/healthz" })).status).toBe(200);
  });

  it("finds the token whatever its case and in multiValueHeaders alone", async () => {
    for (const name of ["authorization", "Authorization", "AUTHORIZATION"]) {
      expect((await invoke({ method: "GET", path: "/pipelines", headers: { [name]: TOKEN } })).status).toBe(200);
    }
    if (!fixture.multiValueHeaders) return;
    // v1 events carry both maps; a proxy in front may fill only the multi-valued one.
    const answer = await invoke({ method: "GET", path: "/pipelines", headers: { Authorization: TOKEN } }, (event) => {
      if ("headers" in event) delete event.headers;
    });
    expect(answer.status).toBe(200);
  });

  it("answers 400 naming each bad field, and 400 for malformed JSON sent as base64", async () => {
    const bad = { name: "", repository: 42, stages: { run_stage: { command: " " } }, extra: true };
    const problem = expectProblem(await call({ method: "POST", path: "/pipelines", ...json(bad, true) }), 400);
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(["extra", "name", "repository", "stages.run_stage.command"]);
    for (const base64 of [false, true]) {
      const malformed = expectProblem(await call({ method: "POST", path: "/pipelines", body: '{"name": "x",', base64 }), 400);
      expect(malformed.detail).toMatch(/not valid JSON/);
    }
    expect((await call({ method: "GET", path: "/pipelines" })).body).toEqual([]);
  });

  it("answers 404 for an unknown id, and reads a percent-encoded id from the path", async () => {
    expect(expectProblem(await call({ method: "GET", path: `/pipelines/${UNKNOWN_ID}` }), 404).detail).toBe(`pipeline ${UNKNOWN_ID} not found`);
    expect(expectProblem(await call({ method: "POST", path: "/pipelines/x%20y/trigger" }), 404).detail).toBe("pipeline x y not found");
    expectProblem(await call({ method: "GET", path: `/runs/${UNKNOWN_ID}` }), 404);
  });

  it("answers 413 for a base64 body over 1 MiB, and stores nothing", async () => {
    const huge = { ...seedPipeline, name: "x".repeat(1024 * 1024) };
    expectProblem(await call({ method: "POST", path: "/pipelines", ...json(huge, true) }), 413);
    expect((await call({ method: "GET", path: "/pipelines" })).body).toEqual([]);
  });

  it("updates and deletes by path id (204 in the kind's shape)", async () => {
    const pipeline = await create();
    const put = await call({ method: "PUT", path: `/pipelines/${pipeline.id}`, ...json({ ...seedPipeline, name: "renamed" }, true) });
    expect(put).toMatchObject({ status: 200, body: { id: pipeline.id, name: "renamed" } });
    expect((await call({ method: "DELETE", path: `/pipelines/${pipeline.id}` })).status).toBe(204);
    expectProblem(await call({ method: "GET", path: `/pipelines/${pipeline.id}` }), 404);
  });
  },
);

it("every handler that reads path parameters declares the route path the table gives it", () => {
  for (const r of routes) expect(r.handler.route ?? r.path).toBe(r.path);
  expect(routes.filter((r) => r.path.includes("{")).every((r) => r.handler.route === r.path)).toBe(true);
});
