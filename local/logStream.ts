/**
 * GET /runs/{run_id}/logs with `Accept: text/event-stream`: the run's log as Server-Sent Events, from
 * the line after `Last-Event-ID` (or `?after=`). `event: line` (id: its seq), `event: stage` when a
 * stage's status changes, and a last `event: end` with the run's status, after which the stream
 * closes; a comment line every 15 s keeps proxies from closing an idle stream. A stream is not a
 * Lambda result, so the emulator serves it itself; anything it cannot serve (no token, a bad id or
 * `after`, an unknown run) goes on to the handler, which answers with the problem.
 */
import type { RequestHandler } from "express";
import { IdParam, LogsQuery } from "../lib/api/schemas.ts";
import type { Services } from "../lib/http/services.ts";
import { runEvents, type RunEvent } from "../lib/store/follow.ts";

export function logStream(services: Services, heartbeatMs = 15_000): RequestHandler {
  return async (req, res, next) => {
    if (!req.headers.accept?.includes("text/event-stream")) return next();
    const id = String(req.params.run_id ?? "").toLowerCase();
    const query = LogsQuery.safeParse({ after: req.get("last-event-id") ?? req.query.after });
    if (!services.tokens.accepts(req.headers.authorization) || !IdParam.safeParse(id).success || !query.success) return next();
    try {
      if (!(await services.store.getRun(id))) return next();
    } catch (error) {
      return next(error);
    }
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no" });
    res.flushHeaders();
    const stop = new AbortController();
    res.on("close", () => stop.abort());
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), heartbeatMs);
    try {
      for await (const event of runEvents(services.store, id, query.data.after, stop.signal)) res.write(sse(event));
    } catch (error) {
      // The store failed mid-stream: the client resumes from its Last-Event-ID.
      services.log(`log stream of run ${id} ended: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearInterval(heartbeat);
      res.end();
    }
  };
}

/** One event in the text/event-stream format; a line's id is its seq, for Last-Event-ID. */
function sse(e: RunEvent): string {
  switch (e.event) {
    case "line":
      return `id: ${e.line.seq}\nevent: line\ndata: ${JSON.stringify(e.line)}\n\n`;
    case "stage":
      return `event: stage\ndata: ${JSON.stringify({ stage: e.stage, status: e.status })}\n\n`;
    case "end":
      return `event: end\ndata: ${JSON.stringify({ status: e.status })}\n\n`;
  }
}
