/**
 * Handler cost (mitata, nanoseconds): each handler invoked directly with a warm v2 event; the shared
 * middy stack against the business function called raw; zod parsing; store operations. Everything is
 * built outside the timed functions. Reported, no target.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { measure } from "mitata";
import { routes } from "../handlers/routes.ts";
import { tokenChecker } from "../lib/http/auth.ts";
import { toApiRequest, toResult } from "../lib/http/endpoint.ts";
import type { HandlerContext, Services } from "../lib/http/services.ts";
import { MemoryStore } from "../lib/store/memory/memoryStore.ts";
import { PipelineInput } from "../lib/api/schemas.ts";
import { benchPipeline } from "./engine.ts";

export interface HandlerPoint {
  name: string;
  p50Ns: number;
  avgNs: number;
}

const token = "bench-token";

function event(method: string, routePath: string, rawPath: string, params: Record<string, string>, body?: unknown): APIGatewayProxyEventV2 {
  const routeKey = `${method} ${routePath}`;
  return {
    version: "2.0",
    routeKey,
    rawPath,
    rawQueryString: "",
    headers: { authorization: token, "content-type": "application/json" },
    pathParameters: params,
    requestContext: { http: { method, path: rawPath }, routeKey } as APIGatewayProxyEventV2["requestContext"],
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

/** The mitata options a profile sets (none for a full run: about 0.6 s of CPU a case). */
export interface SamplingOptions {
  min_cpu_time?: number;
  min_samples?: number;
  batch_samples?: number;
}

export async function measureHandlers(sampling: SamplingOptions): Promise<HandlerPoint[]> {
  // The cases that create pipelines get a store of their own: a claim scans every pipeline, so the
  // thousands they leave would otherwise be what "trigger + claim + finish" measures.
  const store = new MemoryStore();
  const creates = new MemoryStore();
  const tokens = tokenChecker([token]);
  const services: Services = { store, tokens, log: () => {} };
  const createServices: Services = { store: creates, tokens, log: () => {} };
  const context = { services } as HandlerContext;
  const createContext = { services: createServices } as HandlerContext;
  const pipeline = await store.createPipeline(benchPipeline);
  const run = (await store.triggerRun(pipeline.id, "main"))!;
  const handler = (name: string) => routes.find((r) => r.name === name)!.handler;
  // Each call gets a fresh event, as each invocation does in a deployed function.
  const cases: [string, () => unknown][] = [
    ["handler getPipeline", () => handler("getPipeline")(event("GET", "/pipelines/{id}", `/pipelines/${pipeline.id}`, { id: pipeline.id }), context)],
    ["raw getPipeline (no middy stack)", () => {
      const e = event("GET", "/pipelines/{id}", `/pipelines/${pipeline.id}`, { id: pipeline.id });
      return handler("getPipeline").endpoint(toApiRequest(e), services).then(toResult);
    }],
    ["handler getRun", () => handler("getRun")(event("GET", "/runs/{run_id}", `/runs/${run.id}`, { run_id: run.id }), context)],
    ["handler listRuns", () => handler("listRuns")(event("GET", "/runs", "/runs", {}), context)],
    ["handler createPipeline", () => handler("createPipeline")(event("POST", "/pipelines", "/pipelines", {}, benchPipeline), createContext)],
    ["raw createPipeline (no middy stack)", () => {
      const request = { ...toApiRequest(event("POST", "/pipelines", "/pipelines", {})), body: JSON.parse(JSON.stringify(benchPipeline)) };
      return handler("createPipeline").endpoint(request, createServices).then(toResult);
    }],
    ["handler getHealth", () => handler("getHealth")(event("GET", "/healthz", "/healthz", {}), context)],
    ["zod parse of a full pipeline", () => PipelineInput.parse(benchPipeline)],
    ["store getPipeline", () => store.getPipeline(pipeline.id)],
    ["store createPipeline", () => creates.createPipeline(benchPipeline)],
    ["store trigger + claim + finish", async () => {
      await store.triggerRun(pipeline.id, "main");
      const claim = (await store.claimRun("bench"))!;
      return store.finishRun(claim, "success", null);
    }],
  ];
  const points: HandlerPoint[] = [];
  for (const [name, fn] of cases) {
    const stats = await measure(fn, sampling);
    points.push({ name, p50Ns: stats.p50, avgNs: stats.avg });
  }
  return points;
}
