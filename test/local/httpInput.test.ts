/**
 * What the emulator's HTTP side does with odd requests: HEAD, letter case in paths, bodies that are
 * compressed or not UTF-8, repeated query parameters, bad escapes, and clients too slow to finish.
 */
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../lib/config/serverSettings.ts";
import { Pipeline, Problem } from "../../lib/api/schemas.ts";
import { createApp } from "../../local/app.ts";
import { httpServer, startServer, type HttpTimeouts, type RunningServer } from "../../local/server.ts";
import { seedPipeline } from "../support/fixtures.ts";

let server: RunningServer;
const start = async (timeouts?: HttpTimeouts) =>
  (server = await startServer(loadServerConfig({ port: "0", token: "t", workers: "0" }, {}), timeouts ? { timeouts } : {}));
afterEach(async () => server?.close(0));

const send = (method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(server.url + path, { method, body: body ?? null, headers: { authorization: "t", ...headers } });
const problem = async (response: Response, status: number) => {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return Problem.parse(await response.json());
};
const create = async () => Pipeline.parse(await (await send("POST", "/pipelines", JSON.stringify(seedPipeline))).json());

describe("emulator input", () => {
  it("answers HEAD with the Content-Length a GET's body has, and no body", async () => {
    await start();
    const pipeline = await create();
    for (const path of [`/pipelines/${pipeline.id}`, "/healthz", "/pipelines/00000000-0000-4000-8000-000000000000"]) {
      const get = await send("GET", path);
      const length = (await get.arrayBuffer()).byteLength;
      const head = await send("HEAD", path);
      expect([head.status, head.headers.get("content-length")], path).toEqual([get.status, String(length)]);
      expect(await head.text()).toBe("");
    }
  });

  it("routes by exact letter case: /PIPELINES is 404", async () => {
    await start();
    const pipeline = await create();
    for (const path of ["/PIPELINES", "/Pipelines", `/PIPELINES/${pipeline.id}`, "/Healthz"])
      expect((await problem(await send("GET", path), 404)).detail, path).toBe(`no route for GET ${path}`);
  });

  it("answers 415 for a compressed body and 400 for one that is not UTF-8, storing nothing", async () => {
    await start();
    const json = JSON.stringify(seedPipeline);
    const gzipped = await problem(await send("POST", "/pipelines", gzipSync(json), { "content-encoding": "gzip" }), 415);
    expect(gzipped.detail).toBe("Content-Encoding gzip is not supported: send the body uncompressed");
    const latin1 = await problem(await send("POST", "/pipelines", Buffer.from(json.replace("test1", "t\u00e9st"), "latin1")), 400);
    expect(latin1.detail).toBe("request body is not valid UTF-8");
    await expect(server.store.listPipelines({ limit: 10 })).resolves.toMatchObject({ items: [] });
    expect((await send("POST", "/pipelines", json, { "content-encoding": "identity" })).status).toBe(201);
  });

  it("answers 400 naming a repeated query parameter, and words a bad escape in the path itself", async () => {
    await start();
    const repeated = await problem(await send("GET", "/runs?limit=5&status=queued&limit=1"), 400);
    expect(repeated).toMatchObject({ detail: "query parameter limit is repeated", errors: [{ path: "limit", message: "limit must be given once" }] });
    expect((await problem(await send("GET", "/pipelines/%E0%A4%A"), 400)).detail).toBe("request path is not valid percent-encoding");
  });
});

describe("emulator timeouts", () => {
  /** Writes `data` on a raw connection and resolves with what the server sent before it closed the connection. */
  const sendRaw = (data: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(server.url).port), "127.0.0.1", () => socket.write(data));
      let received = "";
      socket.on("data", (chunk) => (received += chunk));
      socket.on("close", () => resolve(received));
      socket.on("error", reject);
    });

  it("closes a connection with 408 when the headers or the body do not arrive in time", async () => {
    await start({ headersMs: 100, requestMs: 200, checkEveryMs: 20 });
    const started = Date.now();
    expect(await sendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n")).toMatch(/^HTTP\/1\.1 408 /);
    const body = "POST /pipelines HTTP/1.1\r\nHost: x\r\nAuthorization: t\r\nContent-Length: 100\r\n\r\n{";
    expect(await sendRaw(body)).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await send("GET", "/healthz")).status).toBe(200);
  });

  it("gives clients 10 s for the headers and 30 s for the whole request by default", () => {
    const plain = httpServer(createApp({} as never));
    expect([plain.headersTimeout, plain.requestTimeout]).toEqual([10_000, 30_000]);
  });
});
