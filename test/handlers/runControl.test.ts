/**
 * Run control over the API, direct and through the emulator: cancel (queued, running, finished), rerun,
 * the concurrency policy on the wire, and where a queued run stands.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Pipeline, Problem, Run } from "../../lib/api/schemas.ts";
import { runOnly, seedPipeline } from "../support/fixtures.ts";
import { directInvoker, emulatorInvoker, TOKEN, type Call, type Invoker } from "./invokers.ts";

describe.each([
  ["direct", async () => directInvoker()],
  ["emulator", emulatorInvoker],
])("run control over %s", (_name, makeInvoker) => {
  let api: Invoker;
  const call = (c: Call) => api.call({ ...c, headers: { authorization: TOKEN, ...c.headers } });
  const create = async (body: unknown = seedPipeline) => Pipeline.parse((await call({ method: "POST", path: "/pipelines", body })).body);
  const trigger = async (id: string) => Run.parse((await call({ method: "POST", path: `/pipelines/${id}/trigger` })).body);
  const problem = (answer: { status: number; body: unknown }, status: number) => {
    expect(answer.status).toBe(status);
    return Problem.parse(answer.body);
  };

  beforeEach(async () => {
    api = await makeInvoker();
  });
  afterEach(async () => api.close());

  it("cancels a queued run at once: 202, cancelled, the reason in its error", async () => {
    const run = await trigger((await create()).id);
    const answer = await call({ method: "POST", path: `/runs/${run.id}/cancel`, body: { reason: "wrong branch" } });
    expect(answer.status).toBe(202);
    expect(Run.parse(answer.body)).toMatchObject({ id: run.id, status: "cancelled", error: "cancelled: wrong branch" });
    const plain = await trigger((await create()).id);
    expect(Run.parse((await call({ method: "POST", path: `/runs/${plain.id}/cancel` })).body).error).toBe("cancelled: by request");
  });

  it("asks a running run to cancel (202, cancel_requested_at), again 202, and 409 once it has finished", async () => {
    const run = await trigger((await create()).id);
    const claim = (await api.store.claimRun("w1"))!;
    const first = await call({ method: "POST", path: `/runs/${run.id}/cancel` });
    expect(first.status).toBe(202);
    const requested = Run.parse(first.body);
    expect(requested.status).toBe("running");
    expect(requested.cancel_requested_at).toEqual(expect.any(String));
    expect((await call({ method: "POST", path: `/runs/${run.id}/cancel` })).status).toBe(202);
    await api.store.finishRun(claim, "cancelled", "cancelled: by request");
    const late = problem(await call({ method: "POST", path: `/runs/${run.id}/cancel` }), 409);
    expect(late.detail).toContain("already finished");
  });

  it("refuses a bad cancel body and an unknown run, changing nothing", async () => {
    const run = await trigger((await create()).id);
    const bad = problem(await call({ method: "POST", path: `/runs/${run.id}/cancel`, body: { reason: 7, extra: 1 } }), 400);
    expect(bad.errors?.map((e) => e.path).sort()).toEqual(["extra", "reason"]);
    expect((await api.store.getRun(run.id))?.status).toBe("queued");
    problem(await call({ method: "POST", path: "/runs/ffffffff-ffff-4fff-bfff-ffffffffffff/cancel" }), 404);
  });

  it("reruns a run with its env: 202, Location, rerun_of; 404 unknown; 409 once its pipeline is deleted", async () => {
    const pipeline = await create(runOnly("p"));
    const env = { DEPLOY_ENV: "staging" };
    const run = Run.parse((await call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body: { env } })).body);
    const answer = await call({ method: "POST", path: `/runs/${run.id}/rerun` });
    expect(answer.status).toBe(202);
    const rerun = Run.parse(answer.body);
    expect(answer.headers.location).toBe(`/runs/${rerun.id}`);
    expect(rerun).toMatchObject({ rerun_of: run.id, pipeline_id: pipeline.id, git_ref: "main", env, status: "queued", queue_position: 2 });
    problem(await call({ method: "POST", path: "/runs/ffffffff-ffff-4fff-bfff-ffffffffffff/rerun" }), 404);
    await call({ method: "DELETE", path: `/pipelines/${pipeline.id}` });
    expect(problem(await call({ method: "POST", path: `/runs/${run.id}/rerun` }), 409).detail).toContain("deleted");
  });

  it("takes a concurrency policy with the pipeline, refuses an unknown one, and supersedes queued runs", async () => {
    problem(await call({ method: "POST", path: "/pipelines", body: { ...runOnly("p"), concurrency: "sometimes" } }), 400);
    const pipeline = await create({ ...runOnly("p"), concurrency: "supersede" });
    expect(pipeline.concurrency).toBe("supersede");
    const first = await trigger(pipeline.id);
    const second = await trigger(pipeline.id);
    expect(await api.store.getRun(first.id)).toMatchObject({ status: "cancelled", error: `superseded by run ${second.id}` });
    expect(second).toMatchObject({ queue_position: 1, waiting_for: "a free worker" });
  });

  it("answers a repeated Idempotency-Key with the same run and says so; 422 for another body; 400 for a long key", async () => {
    const pipeline = await create(runOnly("p"));
    const send = (body: unknown, key: string) => call({ method: "POST", path: `/pipelines/${pipeline.id}/trigger`, body, headers: { "idempotency-key": key } });
    const first = await send({ git_ref: "main" }, "push-1");
    expect(first.status).toBe(202);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    // No body means git_ref main: the same request.
    const again = await send(undefined, "push-1");
    expect(again.status).toBe(202);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(Run.parse(again.body).id).toBe(Run.parse(first.body).id);
    expect(again.headers.location).toBe(first.headers.location);
    expect(problem(await send({ git_ref: "dev" }, "push-1"), 422).detail).toContain("different request");
    expect(problem(await send({ git_ref: "main", env: { DEPLOY_ENV: "prod" } }, "push-1"), 422).detail).toContain("different request");
    expect(problem(await send({ git_ref: "main" }, "k".repeat(256)), 400).errors?.[0]?.path).toBe("Idempotency-Key");
    expect((await api.store.listRuns({ limit: 10 })).items).toHaveLength(1);
    // The same env in another order is the same request.
    const withEnv = await send({ env: { A: "1", B: "2" } }, "push-2");
    const reordered = await send({ env: { B: "2", A: "1" } }, "push-2");
    expect([withEnv.status, reordered.status, reordered.headers["idempotent-replayed"]]).toEqual([202, 202, "true"]);
    expect(Run.parse(reordered.body)).toMatchObject({ id: Run.parse(withEnv.body).id, env: { A: "1", B: "2" } });
    expect((await api.store.listRuns({ limit: 10 })).items).toHaveLength(2);
    const created = await call({ method: "POST", path: "/pipelines", body: runOnly("q"), headers: { "idempotency-key": "create-q" } });
    const replayed = await call({ method: "POST", path: "/pipelines", body: runOnly("q"), headers: { "idempotency-key": "create-q" } });
    expect([created.status, replayed.status, replayed.headers["idempotent-replayed"]]).toEqual([201, 201, "true"]);
    expect(Pipeline.parse(replayed.body).id).toBe(Pipeline.parse(created.body).id);
  });
});
