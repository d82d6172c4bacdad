/**
 * What a person controlling a run waits for, through the emulator's HTTP API:
 * - cancel: from sending POST /runs/{id}/cancel for a running run to a client seeing it `cancelled`
 *   (a long-poll of its logs answering done);
 * - log lines: from a stage logging a line to a client receiving it, over SSE and over long-polls.
 * In memory the workers run in the server's process; on PostgreSQL in another process, so that every
 * cancel and line crosses the database.
 */
import { fork, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { loadServerConfig } from "../lib/config/serverSettings.ts";
import { startServer, type RunningServer } from "../local/server.ts";
import { percentiles, type Percentiles } from "./stats.ts";
import { epochNow, tickRunner } from "./tickRunner.ts";

export interface RunControlPoint {
  store: "memory" | "postgres";
  cancels: number;
  /** Request to `cancelled` seen by a client, ms. */
  cancel: Percentiles;
  lines: number;
  /** Line logged to line received, ms. */
  sse: Percentiles;
  longPoll: Percentiles;
}

const TOKEN = "bench";

export async function measureRunControl(opts: { cancels: number; lines: number; pgUrl?: string }): Promise<RunControlPoint> {
  const store = opts.pgUrl ? { store: opts.pgUrl } : {};
  const server = await startServer(loadServerConfig({ port: "0", token: TOKEN, workers: opts.pgUrl ? "0" : "2", ...store }, {}), { runner: tickRunner });
  let worker: ChildProcess | undefined;
  try {
    if (opts.pgUrl) worker = await startWorker(opts.pgUrl);
    const api = client(server);
    const cancel = await measureCancels(api, opts.cancels);
    const { sse, longPoll } = await measureLines(api, server, opts.lines);
    return { store: opts.pgUrl ? "postgres" : "memory", cancels: opts.cancels, cancel: percentiles(cancel), lines: opts.lines, sse: percentiles(sse), longPoll: percentiles(longPoll) };
  } finally {
    worker?.send("stop");
    await server.close(0);
  }
}

function startWorker(url: string): Promise<ChildProcess> {
  const child = fork(new URL("./runControlWorker.ts", import.meta.url).pathname, [url], { execArgv: ["--import", "tsx"], stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`run-control worker exited with ${code}`)));
  });
}

type Api = ReturnType<typeof client>;

function client(server: RunningServer) {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(server.url + path, { method, headers: { authorization: TOKEN }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return (await response.json()) as Record<string, any>;
  };
  return {
    call,
    /** Long-polls the run's logs until `until` holds for a page; returns that page. */
    async pollUntil(runId: string, until: (page: Record<string, any>) => boolean, onLines?: (lines: { text: string }[]) => void) {
      for (let after = 0; ; ) {
        const page = await call("GET", `/runs/${runId}/logs?after=${after}&wait_ms=5000`);
        onLines?.(page.lines);
        if (until(page)) return page;
        after = page.next_after;
      }
    },
  };
}

async function measureCancels(api: Api, count: number): Promise<number[]> {
  const pipeline = await api.call("POST", "/pipelines", { name: "bench-cancel", repository: "r", stages: { run_stage: { command: "wait" } } });
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const run = await api.call("POST", `/pipelines/${pipeline.id}/trigger`);
    while ((await api.call("GET", `/runs/${run.id}`)).status !== "running") await sleep(2);
    const sent = epochNow();
    await api.call("POST", `/runs/${run.id}/cancel`);
    await api.pollUntil(run.id, (page) => page.done);
    samples.push(epochNow() - sent);
  }
  return samples;
}

async function measureLines(api: Api, server: RunningServer, count: number): Promise<{ sse: number[]; longPoll: number[] }> {
  const pipeline = await api.call("POST", "/pipelines", { name: "bench-lines", repository: "r", stages: { run_stage: { command: `ticks ${count} every 10` } } });
  const run = await api.call("POST", `/pipelines/${pipeline.id}/trigger`);
  const latency = (text: string) => epochNow() - Number(text.slice("tick ".length));
  const longPoll: number[] = [];
  const polling = api.pollUntil(run.id, (page) => page.done, (lines) => lines.forEach((l) => longPoll.push(latency(l.text))));
  const sse: number[] = [];
  const response = await fetch(`${server.url}/runs/${run.id}/logs`, { headers: { authorization: TOKEN, accept: "text/event-stream" } });
  let buffer = "";
  for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(event)?.[1];
      if (event.includes("event: line") && data) sse.push(latency(JSON.parse(data).text));
    }
  }
  await polling;
  return { sse, longPoll };
}
