/** The API client in-process: URL joining, pages, and each way a request can fail. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, ConnectionError, nextCursor, StagerunnerApi } from "../../cli/client/api.ts";
import type { RunningServer } from "../../local/server.ts";
import { runOnly } from "../support/fixtures.ts";
import { startTestServer, TOKEN } from "./harness.ts";

let server: RunningServer;
let api: StagerunnerApi;

beforeAll(async () => {
  server = await startTestServer({ workers: "0" });
  api = new StagerunnerApi(server.url, { token: TOKEN });
});
afterAll(() => server.close(0));

/** A server that answers every request with `status`, `contentType` and `body`. */
async function fixedServer(status: number, contentType: string, body: string): Promise<{ server: Server; url: string }> {
  const s = createServer((_req, res) => res.writeHead(status, { "Content-Type": contentType }).end(body));
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return { server: s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
}

describe("StagerunnerApi", () => {
  it("joins paths under the base path, with or without a trailing slash", () => {
    for (const base of ["https://h.example/prod", "https://h.example/prod/", "https://h.example/prod?x=1"])
      expect(new StagerunnerApi(base).urlFor("/runs", { status: "failed", cursor: undefined }).href).toBe("https://h.example/prod/runs?status=failed");
    expect(new StagerunnerApi("http://127.0.0.1:8080").urlFor("/pipelines").href).toBe("http://127.0.0.1:8080/pipelines");
    expect(() => new StagerunnerApi("ftp://h.example")).toThrow(TypeError);
  });

  it("reads the next cursor from a Link header", () => {
    expect(nextCursor('</prod/runs?limit=2&cursor=cDQ>; rel="next"')).toBe("cDQ");
    expect(nextCursor(null)).toBeUndefined();
    expect(nextCursor('</runs?cursor=x>; rel="prev"')).toBeUndefined();
  });

  it("walks every page of a list", async () => {
    const created = [];
    for (const name of ["p1", "p2", "p3"]) created.push((await api.createPipeline(runOnly(name))).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.listPipelines({ limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((p) => p.id));
      cursor = page.next;
    } while (cursor);
    expect(seen).toEqual(created);
  });

  it("throws ApiError with the server's problem", async () => {
    const error = await api.createPipeline({ name: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).problem).toMatchObject({ status: 400, errors: expect.arrayContaining([{ path: "repository", message: "repository is required" }]) });
    await expect(new StagerunnerApi(server.url).listRuns()).rejects.toMatchObject({ problem: { status: 401, title: "Unauthorized" } });
  });

  it("makes a problem of an error that is not problem+json (a gateway's 502 page)", async () => {
    const gateway = await fixedServer(502, "text/html", "<h1>Bad Gateway</h1>");
    try {
      await expect(new StagerunnerApi(gateway.url).getRun("r1")).rejects.toMatchObject({
        problem: { status: 502, title: "Bad Gateway", detail: "GET /runs/r1" },
      });
    } finally {
      gateway.server.close();
    }
  });

  it("refuses a 200 that is not the API's (a web page, or the wrong shape)", async () => {
    const page = await fixedServer(200, "text/html", "<html></html>");
    const wrong = await fixedServer(200, "application/json", '{"id": 1}');
    try {
      await expect(new StagerunnerApi(page.url).listPipelines()).rejects.toThrow(/body that is not JSON: is .* a Stagerunner API\?/);
      await expect(new StagerunnerApi(wrong.url).getPipeline("x")).rejects.toThrow(ConnectionError);
      await expect(new StagerunnerApi(wrong.url).listRuns()).rejects.toThrow(/expected a JSON array/);
    } finally {
      page.server.close();
      wrong.server.close();
    }
  });

  it("gives up on a server that does not answer in time", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      await expect(new StagerunnerApi(url, { timeoutMs: 50 }).listRuns()).rejects.toThrow(`cannot reach Stagerunner at ${url}/: no answer in time`);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
