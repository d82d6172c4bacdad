/**
 * The API contract (../shared/DESIGN.md), run unchanged over direct handler invocation and over HTTP
 * through the emulator.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Pipeline, Problem, Run } from "../../lib/api/schemas.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { directInvoker, emulatorInvoker, TOKEN, type Call, type Invoker } from "./invokers.ts";


describe.each([
  ["direct", async () => directInvoker()],
  ["emulator", emulatorInvoker],
])("API over %s", (_name, makeInvoker) => {
  let api: Invoker;
  const call = (c: Call) => api.call({ ...c, headers: { authorization: TOKEN, ...c.headers } });
  const create = async (body: unknown = seedPipeline) => {
    const answer = await call({ method: "POST", path: "/pipelines", body });
    expect(answer.status).toBe(201);
    return Pipeline.parse(answer.body);
  };
  const expectProblem = (answer: { status: number; headers: Record<string, string>; body: unknown }, status: number) => {
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const problem = Problem.parse(answer.body);
    expect(problem.status).toBe(status);
    return problem;
  };

  beforeEach(async () => {
    api = await makeInvoker();
  });
  afterEach(async () => api.close());

  it("creates a pipeline: 201, Location, the pipeline as stored", async () => {
    const answer = await call({ method: "POST", path: "/pipelines", body: seedPipeline });
    expect(answer.status).toBe(201);
    const pipeline = Pipeline.parse(answer.body);
    expect(answer.headers.location).toBe(`/pipelines/${pipeline.id}`);
    expect(pipeline).toMatchObject(seedPipeline);
    expect(await api.store.getPipeline(pipeline.id)).toEqual(pipeline);
  });

  it("parses the body as JSON whatever the Content-Type says (curl -d sends form-urlencoded)", async () => {
    const answer = await call({
      method: "POST",
      path: "/pipelines",
      body: JSON.stringify(seedPipeline),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(answer.status).toBe(201);
  });

  it("accepts the token raw and as Bearer, and any of several tokens", async () => {
    for (const authorization of [TOKEN, `Bearer ${TOKEN}`, "other-token", "bearer other-token"]) {
      expect((await api.call({ method: "GET", path: "/pipelines", headers: { authorization } })).status).toBe(200);
    }
  });

  it("answers 401 without or with a wrong token on every endpoint, and changes nothing", async () => {
    const pipeline = await create();
    const calls: Call[] = [
      { method: "GET", path: "/pipelines" },
      { method: "POST", path: "/pipelines", body: seedPipeline },
      { method: "GET", path: `/pipelines/${pipeline.id}` },
      { method: "PUT", path: `/pipelines/${pipeline.id}`, body: seedPipeline },
      { method: "DELETE", path: `/pipelines/${pipeline.id}` },
      { method: "POST", path: `/pipelines/${pipeline.id}/trigger` },
      { method: "GET", path: "/runs" },
      { method: "GET", path: `/runs/${pipeline.id}` },
    ];
    for (const c of calls) {
      for (const headers of [{} as Record<string, string>, { authorization: "wrong" }, { authorization: `Bearer ${TOKEN}x` }, { authorization: "" }]) {
        const problem = expectProblem(await api.call({ ...c, headers }), 401);
        expect(problem.title).toBe("Unauthorized");
      }
    }
    expect((await api.store.listPipelines({ limit: 10 })).items).toEqual([pipeline]);
    expect((await api.store.listRuns({ limit: 10 })).items).toEqual([]);
  });

  it("serves /healthz without a token", async () => {
    const answer = await api.call({ method: "GET", path: "/healthz" });
    expect(answer).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("rejects invalid pipelines with 400 naming every bad field, and stores nothing", async () => {
    const bad = {
      name: "",
      repository: 42,
      stages: { run_stage: { command: "  " }, build_stage: {}, test_stage: { command: "x" } },
      extra: true,
    };
    const problem = expectProblem(await call({ method: "POST", path: "/pipelines", body: bad }), 400);
    expect(problem.detail).toBe("request body is invalid");
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(
      ["extra", "name", "repository", "stages.build_stage.dockerfile_path", "stages.run_stage.command", "stages.test_stage"].sort(),
    );
    expect((await api.store.listPipelines({ limit: 10 })).items).toEqual([]);
  });

  it.each([
    ["no stages", { ...seedPipeline, stages: {} }, "stages"],
    ["a NUL character in the name", { ...seedPipeline, name: "a\u0000b" }, "name"],
    ["a lone surrogate in a command", { ...seedPipeline, stages: { run_stage: { command: "x\ud800" } } }, "stages.run_stage.command"],
    ["deploy without manifest_path", { ...seedPipeline, stages: { deploy_stage: { cluster_name: "c" } } }, "stages.deploy_stage.manifest_path"],
    ["stages not an object", { ...seedPipeline, stages: [] }, "stages", "stages must be an object"],
    ["a body that is not an object", [1, 2], "(root)", "request body must be a JSON object"],
    ["no body", undefined, "(root)", "request body is required"],
    ["an empty body", "", "(root)", "request body is required"],
  ])("rejects %s with 400", async (_what, body, path, message?: string) => {
    const problem = expectProblem(await call({ method: "POST", path: "/pipelines", body }), 400);
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    // Each message says what was expected, not only "Invalid input".
    if (message) expect(problem.errors?.find((e) => e.path === path)?.message).toContain(message);
    // A problem with the body as a whole is the detail.
    if (path === "(root)") expect(problem.detail).toBe(message);
  });

  it("says an empty body is missing on PUT too", async () => {
    const pipeline = await create();
    const problem = expectProblem(await call({ method: "PUT", path: `/pipelines/${pipeline.id}` }), 400);
    expect(problem).toMatchObject({ detail: "request body is required", errors: [{ path: "(root)", message: "request body is required" }] });
  });

  it("names the allowed values of a bad status filter", async () => {
    const problem = expectProblem(await call({ method: "GET", path: "/runs?status=bogus" }), 400);
    expect(problem.errors).toEqual([{ path: "status", message: "status must be one of queued, running, success, failed, cancelled" }]);
  });

  it("answers 400 for malformed JSON", async () => {
    const problem = expectProblem(await call({ method: "POST", path: "/pipelines", body: '{"name": "x",' }), 400);
    expect(problem.detail).toMatch(/not valid JSON/);
  });

  it("answers 413 for a body over 1 MiB", async () => {
    const huge = JSON.stringify({ ...seedPipeline, name: "x".repeat(1024 * 1024) });
    expectProblem(await call({ method: "POST", path: "/pipelines", body: huge }), 413);
    expect((await api.store.listPipelines({ limit: 10 })).items).toEqual([]);
  });

  it("gets, replaces and deletes a pipeline", async () => {
    const pipeline = await create();
    expect((await call({ method: "GET", path: `/pipelines/${pipeline.id}` })).body).toEqual(pipeline);
    const replacement = { name: "renamed", repository: "repo2", stages: { run_stage: { command: "make test" } } };
    const put = await call({ method: "PUT", path: `/pipelines/${pipeline.id}`, body: replacement });
    expect(put.status).toBe(200);
    expect(Pipeline.parse(put.body)).toMatchObject({ ...replacement, id: pipeline.id, created_at: pipeline.created_at });
    const bad = await call({ method: "PUT", path: `/pipelines/${pipeline.id}`, body: { name: "x" } });
    expectProblem(bad, 400);
    expect(await api.store.getPipeline(pipeline.id)).toMatchObject(replacement);
    expect((await call({ method: "DELETE", path: `/pipelines/${pipeline.id}` })).status).toBe(204);
    expectProblem(await call({ method: "GET", path: `/pipelines/${pipeline.id}` }), 404);
    expectProblem(await call({ method: "DELETE", path: `/pipelines/${pipeline.id}` }), 404);
  });

  it("answers 404 for unknown and malformed ids", async () => {
    for (const path of ["/pipelines/00000000-0000-4000-8000-000000000000", "/pipelines/not-a-uuid", "/runs/nope", "/pipelines/x%20y/trigger"]) {
      const method = path.endsWith("trigger") ? "POST" : "GET";
      expectProblem(await call({ method, path }), 404);
    }
    expectProblem(await call({ method: "PUT", path: "/pipelines/not-a-uuid", body: seedPipeline }), 404);
  });

  it("takes an upper-case UUID as the lower-case id it names", async () => {
    const pipeline = await create();
    const upper = pipeline.id.toUpperCase();
    expect((await call({ method: "GET", path: `/pipelines/${upper}` })).body).toEqual(pipeline);
    const run = Run.parse((await call({ method: "POST", path: `/pipelines/${upper}/trigger` })).body);
    expect((await call({ method: "GET", path: `/runs?pipeline_id=${upper}&limit=10` })).body).toEqual([run]);
    for (const limit of ["1e2", "0x10", "%2B5", "%205"])
      expect(expectProblem(await call({ method: "GET", path: `/runs?limit=${limit}` }), 400).errors).toEqual([{ path: "limit", message: "limit must be a whole number" }]);
  });

  it("triggers a run: 202, Location, queued with pending stages in order", async () => {
    const pipeline = await create();
    const answer = await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body: { git_ref: "feature/x" } });
    expect(answer.status).toBe(202);
    const run = Run.parse(answer.body);
    expect(answer.headers.location).toBe(`/runs/${run.id}`);
    expect(run).toMatchObject({ pipeline_id: pipeline.id, git_ref: "feature/x", status: "queued", error: null, started_at: null });
    expect(run.stages.map((s) => [s.name, s.status])).toEqual([["run", "pending"], ["build", "pending"], ["deploy", "pending"]]);
    expect((await call({ method: "GET", path: `/runs/${run.id}` })).body).toEqual(run);
  });

  it("defaults git_ref to main with no body, and rejects a bad ref", async () => {
    const pipeline = await create();
    const run = Run.parse((await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger` })).body);
    expect(run.git_ref).toBe("main");
    for (const git_ref of ["", "a b", "../x", 7, "x\udfff"]) {
      expectProblem(await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body: { git_ref } }), 400);
    }
    expectProblem(await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body: { ref: "main" } }), 400);
    expect((await api.store.listRuns({ limit: 10 })).items).toHaveLength(1);
  });

  it("triggers with env: 202 with the run carrying it, names sorted; none gives {}", async () => {
    const pipeline = await create();
    const env = { NOTE: "a=b\nsecond line", DEPLOY_ENV: "staging", EMPTY: "" };
    const answer = await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body: { git_ref: "v1", env } });
    expect(answer.status).toBe(202);
    const run = Run.parse(answer.body);
    expect(run.env).toEqual(env);
    expect(Object.keys(run.env)).toEqual(["DEPLOY_ENV", "EMPTY", "NOTE"]);
    expect((await call({ method: "GET", path: `/runs/${run.id}` })).body).toEqual(run);
    expect(Run.parse((await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger` })).body).env).toEqual({});
  });

  const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`V${i}`, "x"]));
  it.each([
    ["a lower-case name", { deploy_env: "x" }, "env.deploy_env", "deploy_env is not a valid variable name: use A-Z, 0-9 and _, not starting with a digit"],
    ["a name starting with a digit", { "1X": "x" }, "env.1X", "1X is not a valid variable name: use A-Z, 0-9 and _, not starting with a digit"],
    ["51 entries", many, "env", "env must have at most 50 variables"],
    ["a value over 4096 bytes", { BIG: "€".repeat(1366) }, "env.BIG", "BIG must be at most 4096 bytes (UTF-8)"],
    ["CI", { CI: "false" }, "env.CI", "CI is reserved: Stagerunner sets CI and STAGERUNNER_* for every stage"],
    ["a STAGERUNNER_ name", { STAGERUNNER_RUN_ID: "x" }, "env.STAGERUNNER_RUN_ID", "STAGERUNNER_RUN_ID is reserved: Stagerunner sets CI and STAGERUNNER_* for every stage"],
    ["a NUL in a value", { TOKEN: "a\u0000b" }, "env.TOKEN", "TOKEN must not contain NUL characters"],
    ["a lone surrogate in a value", { TOKEN: "a\udc00" }, "env.TOKEN", "TOKEN must be valid Unicode"],
    ["env not an object", ["A=1"], "env", "env must be an object"],
    ["a value that is not a string", { PORT: 8080 }, "env.PORT", "PORT must be a string"],
  ])("refuses a trigger with %s: 400 naming the variable, and queues nothing", async (_what, env, path, message) => {
    const pipeline = await create();
    const problem = expectProblem(await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body: { env } }), 400);
    expect(problem.errors).toEqual([{ path, message }]);
    expect((await api.store.listRuns({ limit: 10 })).items).toEqual([]);
  });

  it("deleting a pipeline cancels its queued runs, which stay readable", async () => {
    const pipeline = await create();
    const run = Run.parse((await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger` })).body);
    await call({ method: "DELETE", path: `/pipelines/${pipeline.id}` });
    const after = Run.parse((await call({ method: "GET", path: `/runs/${run.id}` })).body);
    expect(after).toMatchObject({ status: "cancelled", error: "pipeline deleted" });
    expect(after.stages.every((s) => s.status === "skipped")).toBe(true);
    expectProblem(await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger` }), 404);
  });

  it("lists runs newest first, filtered, paginated with a Link header", async () => {
    const a = await create();
    const b = await create({ ...seedPipeline, name: "b" });
    const ids: string[] = [];
    for (const p of [a, b, a, b, a]) ids.push(Run.parse((await call({ method: "POST", path: `/pipelines/${p.id}/trigger` })).body).id);
    const all = await call({ method: "GET", path: "/runs" });
    expect(all.body.map((r: { id: string }) => r.id)).toEqual([...ids].reverse());
    expect(all.headers.link).toBeUndefined();

    const ofA = await call({ method: "GET", path: `/runs?pipeline_id=${a.id}&limit=2` });
    expect(ofA.body.map((r: { id: string }) => r.id)).toEqual([ids[4], ids[2]]);
    const next = /^<([^>]+)>; rel="next"$/.exec(ofA.headers.link ?? "")?.[1];
    expect(next).toMatch(new RegExp(`^/runs\\?.*pipeline_id=${a.id}.*cursor=`));
    const rest = await call({ method: "GET", path: next! });
    expect(rest.body.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    expect(rest.headers.link).toBeUndefined();

    expect((await call({ method: "GET", path: "/runs?status=queued&limit=1000" })).body).toHaveLength(5);
    expect((await call({ method: "GET", path: "/runs?status=success" })).body).toEqual([]);
    for (const query of ["status=done", "limit=0", "limit=1001", "limit=abc", "pipeline_id=xyz", "cursor=bogus", "colour=red"]) {
      expectProblem(await call({ method: "GET", path: `/runs?${query}` }), 400);
    }
  });

  it("lists pipelines in creation order with pagination", async () => {
    const created = [await create(), await create({ ...seedPipeline, name: "two" }), await create({ ...seedPipeline, name: "three" })];
    const first = await call({ method: "GET", path: "/pipelines?limit=2" });
    expect(first.body).toEqual(created.slice(0, 2));
    const next = /^<([^>]+)>; rel="next"$/.exec(first.headers.link ?? "")?.[1];
    expect((await call({ method: "GET", path: next! })).body).toEqual(created.slice(2));
    expectProblem(await call({ method: "GET", path: "/pipelines?limit=-1" }), 400);
  });
});
