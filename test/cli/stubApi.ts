/**
 * A stand-in for the API's two follow endpoints (GET /runs/{id}, GET /runs/{id}/logs) whose log
 * answers follow a script: serve lines up to a number, drop the connection, or answer 503. It records
 * the `after` of every logs request, so that a test can check where a follower resumed.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { LogLine, Run } from "../../lib/api/schemas.ts";

export const RUN_ID = "01a24d00-0000-7000-8000-000000000001";
const PIPELINE_ID = "01a24d00-0000-7000-8000-000000000002";
const T = "2026-01-01T00:00:00.000Z";

/** Two stages of two lines each. */
export const LINES: LogLine[] = [
  { seq: 1, stage: "run", time: T, text: "$ make test" },
  { seq: 2, stage: "run", time: T, text: "ok" },
  { seq: 3, stage: "build", time: T, text: "$ docker build -f Dockerfile ." },
  { seq: 4, stage: "build", time: T, text: "built" },
];

/**
 * Serve the lines after `after` up to seq `upTo` (`done` once the last is served, or when given: the
 * server's page of a finished run with more lines than a page holds); close the socket without
 * answering; or answer 503.
 */
export type Step = { upTo: number; done?: boolean } | "drop" | "unavailable";

export interface StubApi {
  url: string;
  /** The `after` of each logs request, in order. */
  afters: number[];
  close(): void;
}

/** Steps run in order, the last one again for every later request; the run ends with `outcome`. */
export async function stubApi(steps: Step[], outcome: "success" | "failed" = "success"): Promise<StubApi> {
  const afters: number[] = [];
  let served = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, "http://stub");
    const send = (status: number, body: unknown) => res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    if (url.pathname === `/runs/${RUN_ID}`) return send(200, runAfter(served, outcome));
    if (url.pathname !== `/runs/${RUN_ID}/logs`) return send(404, { type: "about:blank", title: "Not Found", status: 404 });
    const after = Number(url.searchParams.get("after"));
    afters.push(after);
    const step = steps[Math.min(afters.length, steps.length) - 1]!;
    if (step === "drop") return void req.socket.destroy();
    if (step === "unavailable") return send(503, { type: "about:blank", title: "Service Unavailable", status: 503, detail: "database unreachable" });
    served = Math.max(served, step.upTo);
    const lines = LINES.filter((l) => l.seq > after && l.seq <= step.upTo);
    const done = step.done ?? step.upTo >= LINES.length;
    send(200, { lines, next_after: lines.at(-1)?.seq ?? after, status: done ? outcome : "running", done });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    afters,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** The run once `served` lines have been given out: the run stage ends when the build stage's first line comes. */
function runAfter(served: number, outcome: "success" | "failed"): Run {
  const done = served >= LINES.length;
  const stage = (name: "run" | "build", status: "pending" | "running" | "success" | "failed") => ({
    name,
    status,
    started_at: status === "pending" ? null : T,
    finished_at: status === "pending" || status === "running" ? null : T,
    attempts: status === "pending" ? 0 : 1,
    logs: [],
  });
  return {
    id: RUN_ID,
    pipeline_id: PIPELINE_ID,
    git_ref: "main",
    env: {},
    status: done ? outcome : "running",
    stages: [stage("run", served >= 3 ? "success" : "running"), stage("build", done ? outcome : served >= 3 ? "running" : "pending")],
    error: done && outcome === "failed" ? "build stage failed" : null,
    created_at: T,
    started_at: T,
    finished_at: done ? T : null,
    updated_at: T,
    rerun_of: null,
    cancel_requested_at: null,
  };
}
