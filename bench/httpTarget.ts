/**
 * A server process for the HTTP bench, started by http.ts: `emulator` is the real emulator (4 workers,
 * 0-ms stages), `express` a bare Express 5 app whose routes return the same JSON bodies with nothing in
 * between. Prints `{url, pipelineId, token}` as one line when ready; answers "cpu" over IPC with
 * process.cpuUsage().
 */
import type { AddressInfo } from "node:net";
import express from "express";
import { loadServerConfig } from "../lib/config/serverSettings.ts";
import { MemoryStore } from "../lib/store/memory/memoryStore.ts";
import { startServer } from "../local/server.ts";
import { benchPipeline } from "./engine.ts";

const token = "bench-token";
const mode = process.argv[2];

async function seed(store: MemoryStore | import("../lib/store/store.ts").Store) {
  const pipeline = await store.createPipeline(benchPipeline);
  for (let i = 0; i < 25; i++) await store.triggerRun(pipeline.id, "main");
  return pipeline;
}

async function start(): Promise<{ url: string; pipelineId: string }> {
  if (mode === "emulator") {
    const server = await startServer(loadServerConfig({ port: "0", token, workers: "4", stageDurationMs: "0" }, {}));
    const pipeline = await seed(server.store);
    return { url: server.url, pipelineId: pipeline.id };
  }
  if (mode === "express") {
    const store = new MemoryStore();
    const pipeline = await seed(store);
    const runs = (await store.listRuns({ limit: 20 })).items;
    const app = express();
    app.disable("x-powered-by");
    app.set("etag", false);
    app.get("/pipelines/:id", (_req, res) => void res.json(pipeline));
    app.get("/runs", (_req, res) => void res.json(runs));
    app.post("/pipelines/:id/trigger", (_req, res) => void res.status(202).location(`/runs/${runs[0]!.id}`).json(runs[0]));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pipelineId: pipeline.id };
  }
  throw new Error(`unknown mode ${mode}: emulator | express`);
}

const ready = await start();
process.on("message", (message) => {
  if (message === "cpu") process.send?.(process.cpuUsage());
});
process.stdout.write(`${JSON.stringify({ ...ready, token })}\n`);
