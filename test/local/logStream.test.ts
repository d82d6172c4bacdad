/**
 * Following a run's log through the emulator: the long-poll form answers as soon as a line comes, and
 * Server-Sent Events give every line once, stage changes and a final `end`, resume after
 * Last-Event-ID without a gap or a repeat, and keep an idle stream alive with comment lines.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogsPage } from "../../lib/api/schemas.ts";
import { loadServerConfig } from "../../lib/config/serverSettings.ts";
import { startServer, type RunningServer } from "../../local/server.ts";
import { runOnly } from "../support/fixtures.ts";

const TOKEN = "secret";
let server: RunningServer;

beforeEach(async () => {
  server = await startServer(loadServerConfig({ port: "0", token: TOKEN, workers: "0" }, {}), { heartbeatMs: 50 });
});
afterEach(async () => void (await server.close(0)));

/** A running run of a one-stage pipeline, claimed by the test, which plays its worker. */
async function runningRun() {
  const pipeline = await server.store.createPipeline(runOnly("p"));
  const run = (await server.store.triggerRun(pipeline.id, "main"))!;
  const claim = (await server.store.claimRun("test-worker"))!;
  return { id: run.id, claim };
}

const get = (path: string, headers: Record<string, string> = {}) => fetch(server.url + path, { headers: { authorization: TOKEN, ...headers } });

/** Reads SSE events from a response until `until` says stop or the stream ends. */
async function readEvents(response: Response, until: (events: { event: string; id?: string; data: string }[], raw: string) => boolean) {
  const events: { event: string; id?: string; data: string }[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let raw = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    raw += value;
    for (let end = raw.indexOf("\n\n"); end >= 0; end = raw.indexOf("\n\n")) {
      const block = raw.slice(0, end);
      raw = raw.slice(end + 2);
      if (block.startsWith(":")) {
        events.push({ event: "comment", data: block });
        continue;
      }
      const fields = Object.fromEntries(block.split("\n").map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]));
      events.push({ event: fields.event!, ...(fields.id ? { id: fields.id } : {}), data: fields.data! });
    }
    if (until(events, raw)) {
      await reader.cancel();
      break;
    }
  }
  return events;
}

describe("GET /runs/{id}/logs", () => {
  it("numbers lines within the run, gives those after `after`, and says when the run is done", async () => {
    const { id, claim } = await runningRun();
    await server.store.updateStage(claim, 0, { logs: ["one", "two"] });
    const first = LogsPage.parse(await (await get(`/runs/${id}/logs`)).json());
    expect(first.lines.map((l) => [l.seq, l.stage, l.text])).toEqual([
      [1, "run", "one"],
      [2, "run", "two"],
    ]);
    expect(first).toMatchObject({ next_after: 2, status: "running", done: false });
    await server.store.finishRun(claim, "success", null, { index: 0, status: "success", logs: ["three"] });
    const rest = LogsPage.parse(await (await get(`/runs/${id}/logs?after=2`)).json());
    expect(rest).toMatchObject({ next_after: 3, status: "success", done: true });
    expect(rest.lines.map((l) => l.text)).toEqual(["three"]);
  });

  it("long-polls: answers as soon as a line comes, and at wait_ms with nothing when none does", async () => {
    const { id, claim } = await runningRun();
    const started = Date.now();
    const polling = get(`/runs/${id}/logs?after=0&wait_ms=5000`);
    setTimeout(() => void server.store.updateStage(claim, 0, { logs: ["late line"] }), 50);
    const page = LogsPage.parse(await (await polling).json());
    expect(page.lines.map((l) => l.text)).toEqual(["late line"]);
    expect(Date.now() - started).toBeLessThan(2000);
    const empty = LogsPage.parse(await (await get(`/runs/${id}/logs?after=1&wait_ms=100`)).json());
    expect(empty).toMatchObject({ lines: [], next_after: 1, done: false });
  });

  it("says done only on the page that holds a finished run's last lines", async () => {
    const { id, claim } = await runningRun();
    await server.store.finishRun(claim, "success", null, { index: 0, status: "success", logs: Array.from({ length: 1500 }, (_, i) => `line ${i + 1}`) });
    const first = LogsPage.parse(await (await get(`/runs/${id}/logs`)).json());
    expect([first.lines.length, first.next_after, first.done]).toEqual([1000, 1000, false]);
    const last = LogsPage.parse(await (await get(`/runs/${id}/logs?after=1000`)).json());
    expect([last.lines.length, last.next_after, last.done]).toEqual([500, 1500, true]);
  });

  it("refuses a bad `after` or wait_ms with 400, and an unknown run with 404", async () => {
    const { id } = await runningRun();
    for (const query of ["after=1e2", "after=-1", "wait_ms=25001", "after=%205"]) expect((await get(`/runs/${id}/logs?${query}`)).status).toBe(400);
    expect((await get("/runs/ffffffff-ffff-4fff-bfff-ffffffffffff/logs")).status).toBe(404);
  });
});

describe("GET /runs/{id}/logs as Server-Sent Events", () => {
  it("streams stage changes and lines as they come, then `end` with the run's status, and closes", async () => {
    const { id, claim } = await runningRun();
    await server.store.updateStage(claim, 0, { logs: ["before"] });
    const response = await get(`/runs/${id}/logs`, { accept: "text/event-stream" });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    setTimeout(() => void server.store.updateStage(claim, 0, { logs: ["during"] }), 30);
    setTimeout(() => void server.store.finishRun(claim, "failed", "boom", { index: 0, status: "failed", logs: ["after"] }), 60);
    const events = (await readEvents(response, () => false)).filter((e) => e.event !== "comment");
    expect(events.map((e) => [e.event, e.id, e.event === "line" ? JSON.parse(e.data).text : e.data])).toEqual([
      ["stage", undefined, '{"stage":"run","status":"running"}'],
      ["line", "1", "before"],
      ["line", "2", "during"],
      ["stage", undefined, '{"stage":"run","status":"failed"}'],
      ["line", "3", "after"],
      ["end", undefined, '{"status":"failed"}'],
    ]);
  });

  it("resumes after Last-Event-ID without a gap or a repeat, and sends comment lines while idle", async () => {
    const { id, claim } = await runningRun();
    await server.store.updateStage(claim, 0, { logs: ["a", "b", "c"] });
    const response = await get(`/runs/${id}/logs`, { accept: "text/event-stream", "last-event-id": "2" });
    const events = await readEvents(response, (seen) => seen.some((e) => e.event === "comment"));
    expect(events.filter((e) => e.event === "line").map((e) => e.id)).toEqual(["3"]);
    expect(events.at(-1)?.event).toBe("comment");
  });

  it("answers a stream request without a token like any other: 401 problem", async () => {
    const { id } = await runningRun();
    const response = await fetch(`${server.url}/runs/${id}/logs`, { headers: { accept: "text/event-stream" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });
});
