/**
 * The route table: method + path -> handler, the one source of truth for the emulator (and for any
 * deployment template). Paths use API Gateway's `{param}` syntax.
 */
import type { ApiHandler } from "../lib/http/endpoint.ts";
import { handler as createPipeline } from "./createPipeline.ts";
import { handler as deletePipeline } from "./deletePipeline.ts";
import { handler as cancelRun } from "./cancelRun.ts";
import { handler as getHealth } from "./getHealth.ts";
import { handler as getPipeline } from "./getPipeline.ts";
import { handler as getRun } from "./getRun.ts";
import { handler as getRunLogs } from "./getRunLogs.ts";
import { handler as listPipelines } from "./listPipelines.ts";
import { handler as listRuns } from "./listRuns.ts";
import { handler as rerunRun } from "./rerunRun.ts";
import { handler as triggerPipeline } from "./triggerPipeline.ts";
import { handler as updatePipeline } from "./updatePipeline.ts";

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  /** The handler file's name, which is also the deployed function's name. */
  name: string;
  handler: ApiHandler;
}

export const routes: readonly Route[] = [
  { method: "GET", path: "/healthz", name: "getHealth", handler: getHealth },
  { method: "GET", path: "/pipelines", name: "listPipelines", handler: listPipelines },
  { method: "POST", path: "/pipelines", name: "createPipeline", handler: createPipeline },
  { method: "GET", path: "/pipelines/{id}", name: "getPipeline", handler: getPipeline },
  { method: "PUT", path: "/pipelines/{id}", name: "updatePipeline", handler: updatePipeline },
  { method: "DELETE", path: "/pipelines/{id}", name: "deletePipeline", handler: deletePipeline },
  { method: "POST", path: "/pipelines/{id}/trigger", name: "triggerPipeline", handler: triggerPipeline },
  { method: "GET", path: "/runs", name: "listRuns", handler: listRuns },
  { method: "GET", path: "/runs/{run_id}", name: "getRun", handler: getRun },
  { method: "GET", path: "/runs/{run_id}/logs", name: "getRunLogs", handler: getRunLogs },
  { method: "POST", path: "/runs/{run_id}/cancel", name: "cancelRun", handler: cancelRun },
  { method: "POST", path: "/runs/{run_id}/rerun", name: "rerunRun", handler: rerunRun },
];
