/**
 * PostgreSQL going away and coming back, through a TCP proxy the test can cut: the API answers 503
 * problem+json meanwhile and stores nothing; afterwards the workers resume and runs finish.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../lib/config/serverSettings.ts";
import { connectPgStore } from "../../lib/store/pg/schema/migrate.ts";
import { startServer, type RunningServer } from "../../local/server.ts";
import { seedPipeline } from "../support/fixtures.ts";
import { adminQuery, PG_SKIP_REASON, pgTestUrl } from "../support/pgTestDatabase.ts";

/**
 * Forwards to PostgreSQL. `cut()` drops every connection at once (and new ones while cut); `freeze()`
 * keeps the connections open but passes nothing, as a frozen host or a partition would, until `thaw()`.
 */
async function cuttableProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let cut = false;
  let frozen = false;
  const held: [net.Socket, Buffer][] = [];
  const forward = (from: net.Socket, to: net.Socket) =>
    from.on("data", (chunk: Buffer) => (frozen ? held.push([to, chunk]) : to.write(chunk)));
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {}).on("close", () => sockets.delete(s));
    }
    forward(client, upstream);
    forward(upstream, client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.skipIf(!pgTestUrl)(`PostgreSQL outage${pgTestUrl ? "" : ` (skipped: ${PG_SKIP_REASON})`}`, { timeout: 60_000 }, () => {
  const dbName = `sr_outage_${randomBytes(4).toString("hex")}`;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
  let server: RunningServer;

  let viaProxy: URL;
  /** A server on the proxy, with a short query timeout so that a database that stops answering is a 503 within a test's patience. */
  const serve = async (stageDurationMs: number) => {
    const store = await connectPgStore(viaProxy.toString(), { queryTimeoutMs: 500, connectTimeoutMs: 500 });
    return startServer(loadServerConfig({ port: "0", token: "t", workers: "2", stageDurationMs: String(stageDurationMs), store: viaProxy.toString() }, {}), { store });
  };

  beforeAll(async () => {
    await adminQuery(`CREATE DATABASE ${dbName}`);
    const direct = new URL(pgTestUrl!);
    proxy = await cuttableProxy(direct);
    viaProxy = new URL(pgTestUrl!);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    viaProxy.pathname = `/${dbName}`;
    server = await serve(5);
  });

  afterAll(async () => {
    proxy.restore();
    proxy.thaw();
    await server?.close(0);
    await proxy?.close();
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });

  const call = async (method: string, path: string, body?: unknown, on: RunningServer = server) => {
    const response = await fetch(on.url + path, { method, headers: { authorization: "t" }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: response.status, type: response.headers.get("content-type"), retryAfter: response.headers.get("retry-after"), body: (await response.json().catch(() => undefined)) as any };
  };
  const finished = async (runId: string) => {
    for (let i = 0; i < 400; i++) {
      const run = (await call("GET", `/runs/${runId}`)).body;
      if (run?.status === "success") return run;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`run ${runId} did not finish`);
  };

  it("answers 503 while the database is unreachable, and picks up where it left off after", async () => {
    const pipeline = (await call("POST", "/pipelines", seedPipeline)).body;
    await finished((await call("POST", `/pipelines/${pipeline.id}/trigger`)).body.id);

    proxy.cut();
    for (const [method, path] of [["GET", `/pipelines/${pipeline.id}`], ["POST", `/pipelines/${pipeline.id}/trigger`], ["GET", "/runs"]] as const) {
      const answer = await call(method, path);
      expect(answer.status).toBe(503);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.retryAfter).toBe("5");
      expect(answer.body).toMatchObject({ status: 503, title: "Service Unavailable" });
    }

    proxy.restore();
    const runs = (await call("GET", `/runs?pipeline_id=${pipeline.id}`)).body;
    expect(runs).toHaveLength(1); // the trigger refused during the outage stored nothing
    const run = (await call("POST", `/pipelines/${pipeline.id}/trigger`)).body;
    expect((await finished(run.id)).stages.map((s: { status: string }) => s.status)).toEqual(["success", "success", "success"]);
  });

  it("answers 503 within the query timeout when the database stops answering without closing, and recovers after", async () => {
    const pipeline = (await call("POST", "/pipelines", seedPipeline)).body;
    proxy.freeze();
    const started = Date.now();
    const answer = await call("GET", `/pipelines/${pipeline.id}`);
    expect(answer.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5_000);
    proxy.thaw();
    const run = (await call("POST", `/pipelines/${pipeline.id}/trigger`)).body;
    expect((await finished(run.id)).status).toBe("success");
  });

  it("lets a run that was executing when the database went away end as it really did once it is back", async () => {
    const slow = await serve(300);
    try {
      const pipeline = (await call("POST", "/pipelines", seedPipeline, slow)).body;
      const run = (await call("POST", `/pipelines/${pipeline.id}/trigger`, undefined, slow)).body;
      for (let i = 0; i < 200 && (await call("GET", `/runs/${run.id}`, undefined, slow)).body.stages[0].status !== "running"; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      proxy.cut(); // the first stage ends during the outage: its worker cannot record it
      await new Promise((resolve) => setTimeout(resolve, 600));
      proxy.restore();
      // Long before the 30-s lease would have the run failed as "worker lost".
      const ended = await finished(run.id);
      expect(ended.error).toBeNull();
      expect(ended.stages.map((s: { status: string }) => s.status)).toEqual(["success", "success", "success"]);
    } finally {
      proxy.restore();
      await slow.close(0);
    }
  });
});
