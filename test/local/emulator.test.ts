/**
 * What only the emulator does: routing (404, 405), Express-level body limits and bad URIs, running
 * runs with its worker pool, and shutting down.
 */
import { afterEach, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../lib/config/serverSettings.ts";
import { Run } from "../../lib/api/schemas.ts";
import { startServer, type RunningServer } from "../../local/server.ts";
import { seedPipeline } from "../support/fixtures.ts";

let server: RunningServer;
const start = async (flags: Parameters<typeof loadServerConfig>[0]) =>
  (server = await startServer(loadServerConfig({ port: "0", token: "t", ...flags }, {})));
afterEach(async () => server?.close(0));

const request = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
  const response = await fetch(server.url + path, { method, body: body ?? null, headers: { authorization: "t", ...headers } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
};

/** Polls the run until it is terminal; each poll is an HTTP round trip, no sleeping. */
async function untilDone(id: string): Promise<Run> {
  for (;;) {
    const run = Run.parse((await request("GET", `/runs/${id}`)).body);
    if (["success", "failed", "cancelled"].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("emulator routing", () => {
  it("answers 404 problem+json for an unknown route, with or without a token", async () => {
    await start({ workers: "0" });
    for (const headers of [{} as Record<string, string>, { authorization: "" }]) {
      const answer = await request("GET", "/nope", undefined, headers);
      expect(answer.status).toBe(404);
      expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ status: 404, title: "Not Found" });
    }
  });

  it("answers 405 with Allow for a method a path does not have", async () => {
    await start({ workers: "0" });
    const answer = await request("PATCH", "/pipelines");
    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")).toBe("GET, POST, HEAD");
    expect((await request("POST", "/runs")).headers.get("allow")).toBe("GET, HEAD");
    expect((await request("GET", "/pipelines/x/trigger")).headers.get("allow")).toBe("POST");
  });

  it("answers 413 for a body over 1 MiB before reading it all, and 400 for a malformed URI", async () => {
    await start({ workers: "0" });
    const huge = await request("POST", "/pipelines", "x".repeat(2 * 1024 * 1024));
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ status: 413, title: "Payload Too Large" });
    const badUri = await request("GET", "/pipelines/%E0%A4%A");
    expect(badUri.status).toBe(400);
    expect(badUri.body).toMatchObject({ status: 400 });
  });
});

describe("emulator runs", () => {
  it("runs the seed pipeline to success, recording each stage's times and logs", async () => {
    await start({ workers: "2", stageDurationMs: "5" });
    const pipeline = (await request("POST", "/pipelines", JSON.stringify(seedPipeline))).body;
    const queued = (await request("POST", `/pipelines/${pipeline.id}/trigger`, '{"git_ref": "main"}')).body;
    const run = await untilDone(queued.id);
    expect(run.status).toBe("success");
    expect(run.started_at! >= run.created_at && run.finished_at! >= run.started_at!).toBe(true);
    expect(run.stages.map((s) => s.status)).toEqual(["success", "success", "success"]);
    expect(run.stages[0]!.logs[0]).toBe("$ some command");
    expect(run.stages[1]!.logs[0]).toBe("$ docker build -f Dockerfile .");
    expect(run.stages[2]!.logs[0]).toBe("$ kubectl --context staging_eks_cluster apply -f k8s/");
  });

  it("fails the run at the first failed stage and skips the rest", async () => {
    await start({ workers: "1", stageDurationMs: "0", failureProbability: "1" });
    const pipeline = (await request("POST", "/pipelines", JSON.stringify(seedPipeline))).body;
    const run = await untilDone((await request("POST", `/pipelines/${pipeline.id}/trigger`)).body.id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/run stage failed/);
    expect(run.stages.map((s) => s.status)).toEqual(["failed", "skipped", "skipped"]);
  });

  it("on shutdown, lets short runs finish within the grace period and cancels what is queued", async () => {
    await start({ workers: "1", stageDurationMs: "10" });
    const pipeline = (await request("POST", "/pipelines", JSON.stringify(seedPipeline))).body;
    const first = (await request("POST", `/pipelines/${pipeline.id}/trigger`)).body;
    const second = (await request("POST", `/pipelines/${pipeline.id}/trigger`)).body;
    await new Promise((r) => setTimeout(r, 5));
    const report = await server.close(5_000);
    expect(report.interrupted).toEqual([]);
    expect(report.cancelledQueued.map((r) => r.id)).toEqual([second.id]);
    expect((await server.store.getRun(first.id))?.status).toBe("success");
    expect((await server.store.getRun(second.id))?.status).toBe("cancelled");
    await expect(fetch(server.url + "/healthz")).rejects.toThrow();
  });

  it("on shutdown, cancels a run that outlasts the grace period", async () => {
    await start({ workers: "1", stageDurationMs: "60000" });
    const pipeline = (await request("POST", "/pipelines", JSON.stringify(seedPipeline))).body;
    const run = (await request("POST", `/pipelines/${pipeline.id}/trigger`)).body;
    await new Promise((r) => setTimeout(r, 5));
    const report = await server.close(10);
    expect(report.interrupted).toEqual([run.id]);
    const after = await server.store.getRun(run.id);
    expect(after?.status).toBe("cancelled");
    expect(after?.stages.map((s) => s.status)).toEqual(["cancelled", "skipped", "skipped"]);
  });
});
