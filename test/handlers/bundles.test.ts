/**
 * The built bundles, not the sources: built once into a temporary directory and loaded by plain node
 * in a fresh process (bundleHost.mjs), configured from the environment like a deployed function,
 * invoked with events of every kind. A function keeps its state only in PostgreSQL: without a database
 * URL the bundles load and refuse every request; with STAGERUNNER_TEST_DATABASE_URL they run on a
 * fresh database, where they share state as deployed functions do.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { routes } from "../../handlers/routes.ts";
import type { WorkerSummary } from "../../handlers/runWorker.ts";
import { Pipeline, Problem, Run } from "../../lib/api/schemas.ts";
import { bundleNames, buildBundles } from "../../local/build.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { adminQuery, PG_SKIP_REASON, pgTestUrl } from "../support/pgTestDatabase.ts";
import { Host } from "./bundleHostClient.ts";
import { eventFor, eventKinds, type Answer, type ClientRequest } from "./eventFixtures.ts";

const TOKEN = "bundle-secret";
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const cliBin = new URL("../../cli/bin.mjs", import.meta.url).pathname;

/** What EventBridge sends the worker function on its schedule. */
const scheduledEvent = {
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "123456789012",
  time: "2026-11-28T12:00:00Z",
  region: "us-east-1",
  resources: ["arn:aws:events:us-east-1:123456789012:rule/stagerunner-worker"],
  detail: {},
};

let dist = "";

beforeAll(async () => {
  dist = await mkdtemp(join(tmpdir(), "stagerunner-bundles-"));
  await buildBundles(dist);
}, 120_000);

afterAll(async () => {
  if (dist) await rm(dist, { recursive: true, force: true });
});


const authorized = { Authorization: `Bearer ${TOKEN}` };
const jsonBody = (body: unknown) => ({ body: JSON.stringify(body), headers: { ...authorized, "Content-Type": "application/json" } });
/** A request to every route, its path parameters an id that exists nowhere. */
const unknownIdRequests = routes.map((r) => ({ route: r, request: { method: r.method, path: r.path.replace(/\{\w+\}/g, UNKNOWN_ID) } }));

function expectProblem(answer: Answer, status: number) {
  expect(answer.status).toBe(status);
  expect(answer.headers["content-type"]).toBe("application/problem+json");
  return Problem.parse(answer.body);
}

describe("bundles in a fresh process without DATABASE_URL or STAGERUNNER_STORE", { timeout: 60_000 }, () => {
  let host: Host;
  beforeAll(() => {
    host = new Host(dist, { STAGERUNNER_TOKEN: TOKEN });
  });
  afterAll(() => host.close());

  it("every bundle that npm run build writes loads alone and exports a handler function", async () => {
    for (const name of bundleNames()) {
      const reply = await host.send({ bundle: host.bundlePath(name) });
      expect(reply.error, name).toBeUndefined();
      expect(reply.exports, name).toContain("handler");
      expect(reply.handler, name).toBe("function");
    }
  });

  it.each(eventKinds)("refuse to keep state in one instance's memory: a 500 problem naming DATABASE_URL ($name)", async (fixture) => {
    for (const { route, request } of unknownIdRequests) {
      const problem = expectProblem(await host.call(fixture, { ...request, headers: authorized }), 500);
      expect(problem.detail, route.name).toMatch(/DATABASE_URL/);
    }
  });

  it("runWorker fails its invocation naming DATABASE_URL", async () => {
    await expect(host.invoke("runWorker", scheduledEvent)).rejects.toThrow(/DATABASE_URL/);
  });
});

it("bundles refuse STAGERUNNER_STORE=memory too, naming it", { timeout: 60_000 }, async () => {
  const host = new Host(dist, { STAGERUNNER_TOKEN: TOKEN, STAGERUNNER_STORE: "memory" });
  try {
    const fixture = eventKinds[0]!;
    const problem = expectProblem(await host.call(fixture, { method: "GET", path: "/pipelines", headers: authorized }), 500);
    expect(problem.detail).toBe("server misconfigured: STAGERUNNER_STORE=memory: a deployed function keeps its state in PostgreSQL; set DATABASE_URL (or STAGERUNNER_STORE) to a postgres:// URL");
    await expect(host.invoke("runWorker", scheduledEvent)).rejects.toThrow(/STAGERUNNER_STORE=memory/);
  } finally {
    await host.close();
  }
});

describe.skipIf(!pgTestUrl)(
  `bundles in a fresh process on PostgreSQL, as deployed functions${pgTestUrl ? "" : ` (skipped: ${PG_SKIP_REASON})`}`,
  { timeout: 60_000 },
  () => {
    const dbName = `sr_bundles_${randomBytes(4).toString("hex")}`;
    let url = "";

    beforeAll(async () => {
      await adminQuery(`CREATE DATABASE ${dbName}`);
      const u = new URL(pgTestUrl!);
      u.pathname = `/${dbName}`;
      url = u.toString();
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("STAGERUNNER_") && key !== "DATABASE_URL"));
      // Deployed functions never migrate; `stagerunner migrate` does, before they serve.
      await promisify(execFile)(process.execPath, [cliBin, "migrate", "--store", url], { env });
    }, 60_000);

    afterAll(async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    });

    /** A function's environment on this database. */
    const deployedEnv = (more: Record<string, string> = {}) => ({ DATABASE_URL: url, STAGERUNNER_TOKEN: TOKEN, STAGERUNNER_DB_POOL_SIZE: "2", STAGERUNNER_STAGE_DURATION_MS: "1", ...more });

    /** Empties the database, as a fresh deployment finds it. */
    const emptyDatabase = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query("TRUNCATE runs, pipelines, idempotency_keys CASCADE");
      } finally {
        await client.end();
      }
    };

    describe("each bundle alone", () => {
      let host: Host;
      beforeAll(() => {
        host = new Host(dist, deployedEnv());
      });
      afterAll(() => host.close());
      beforeEach(emptyDatabase);

      describe.each(eventKinds)("over $name events", (fixture) => {
        it("answers 200 to the health check without a token, and 401 on every other route", async () => {
          for (const { route, request } of unknownIdRequests) {
            const answer = await host.call(fixture, request);
            if (route.name === "getHealth") expect(answer.status).toBe(200);
            else expect(expectProblem(answer, 401).title, route.name).toBe("Unauthorized");
          }
        });

        it("createPipeline: 201 with the pipeline and its Location; 400 naming each bad field", async () => {
          const created = await host.call(fixture, { method: "POST", path: "/pipelines", ...jsonBody(seedPipeline) });
          expect(created.status).toBe(201);
          const pipeline = Pipeline.parse(created.body);
          expect(pipeline).toMatchObject(seedPipeline);
          expect(created.headers.location).toBe(`${fixture.stagePrefix}/pipelines/${pipeline.id}`);
          const bad = await host.call(fixture, { method: "POST", path: "/pipelines", ...jsonBody({ ...seedPipeline, name: "" }) });
          expect(expectProblem(bad, 400).errors?.map((e) => e.path)).toEqual(["name"]);
        });

        it("every other bundle: 404 for an id stored nowhere, empty lists on an empty database", async () => {
          for (const { route, request } of unknownIdRequests) {
            if (route.name === "getHealth" || route.name === "createPipeline") continue;
            const answer = await host.call(fixture, { ...request, ...(route.method === "PUT" ? jsonBody(seedPipeline) : { headers: authorized }) });
            if (route.path.includes("{")) expect(expectProblem(answer, 404).detail, route.name).toMatch(/not found/);
            else expect(answer, route.name).toMatchObject({ status: 200, body: [] });
          }
        });
      });

      it("runWorker, on its schedule, finds nothing queued and stops idle", async () => {
        const summary = (await host.invoke("runWorker", scheduledEvent)) as WorkerSummary;
        expect(summary).toMatchObject({ success: 0, failed: 0, stopped: "idle" });
      });
    });

    describe.each(eventKinds)("dist/app.mjs (every route in one function) over $name events", (fixture) => {
      let host: Host;
      beforeAll(() => {
        host = new Host(dist, deployedEnv({ STAGERUNNER_BASE_PATH: fixture.stagePrefix }));
      });
      afterAll(() => host.close());
      beforeEach(emptyDatabase);
      // serverless-http shapes results its own way (v1: multiValueHeaders too; v2: cookies), so read them loosely.
      const app = async (request: ClientRequest): Promise<Answer> => {
        const result = (await host.invoke("../app", eventFor(fixture, request).event)) as Record<string, any>;
        if (fixture.kind === "alb") expect(result.statusDescription).toMatch(/^\d{3} /);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries({ ...result.multiValueHeaders, ...result.headers })) headers[k.toLowerCase()] = String(Array.isArray(v) ? v[0] : v);
        return { status: result.statusCode, headers, body: result.body ? JSON.parse(result.body) : undefined };
      };

      it("serves create, get, list and trigger from one store, with 404 and 401", async () => {
        const created = await app({ method: "POST", path: "/pipelines", ...jsonBody(seedPipeline) });
        expect(created.status).toBe(201);
        const pipeline = Pipeline.parse(created.body);
        expect((await app({ method: "GET", path: `/pipelines/${pipeline.id}`, headers: authorized })).body).toEqual(pipeline);
        expect((await app({ method: "GET", path: "/pipelines", headers: authorized })).body).toEqual([pipeline]);
        const triggered = await app({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, headers: authorized });
        expect(Run.parse(triggered.body)).toMatchObject({ pipeline_id: pipeline.id, status: "queued" });
        expectProblem(await app({ method: "GET", path: `/runs/${UNKNOWN_ID}`, headers: authorized }), 404);
        expectProblem(await app({ method: "GET", path: "/pipelines" }), 401);
      });
    });

    describe("sharing one database", () => {
      let host: Host;
      beforeAll(() => {
        host = new Host(dist, deployedEnv({ STAGERUNNER_WORKERS: "2" }));
      });
      afterAll(() => host.close());
      beforeEach(emptyDatabase);

      it.each(eventKinds)("createPipeline -> getPipeline -> triggerPipeline -> getRun -> listRuns, run by runWorker; 404 and 401 ($name)", async (fixture) => {
        const call = (request: ClientRequest) => host.call(fixture, { headers: authorized, ...request });
        const created = await call({ method: "POST", path: "/pipelines", ...jsonBody(seedPipeline) });
        expect(created.status).toBe(201);
        const pipeline = Pipeline.parse(created.body);
        expect(await call({ method: "GET", path: `/pipelines/${pipeline.id}` })).toMatchObject({ status: 200, body: pipeline });

        const triggered = await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, ...jsonBody({ git_ref: "feature/x" }) });
        expect(triggered.status).toBe(202);
        const run = Run.parse(triggered.body);
        expect(run).toMatchObject({ pipeline_id: pipeline.id, git_ref: "feature/x", status: "queued" });
        expect(triggered.headers.location).toBe(`${fixture.stagePrefix}/runs/${run.id}`);
        expect(await call({ method: "GET", path: `/runs/${run.id}` })).toMatchObject({ status: 200, body: run });
        expect(await call({ method: "GET", path: `/runs?pipeline_id=${pipeline.id}` })).toMatchObject({ status: 200, body: [run] });

        const summary = (await host.invoke("runWorker", scheduledEvent)) as WorkerSummary;
        expect(summary).toMatchObject({ success: 1, failed: 0, stopped: "idle" });
        const finished = Run.parse((await call({ method: "GET", path: `/runs/${run.id}` })).body);
        expect(finished.status).toBe("success");
        expect(finished.stages.map((s) => s.status)).toEqual(["success", "success", "success"]);

        expect(expectProblem(await call({ method: "GET", path: `/pipelines/${UNKNOWN_ID}` }), 404).detail).toBe(`pipeline ${UNKNOWN_ID} not found`);
        expectProblem(await call({ method: "GET", path: "/runs", headers: { Authorization: "wrong" } }), 401);
      });
    });
  },
);
