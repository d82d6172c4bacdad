/**
 * GET /runs/{run_id}/logs?after=N&wait_ms=M: the run's log lines after N (up to 1000), with where to
 * go on from and whether the run has finished. With wait_ms (at most 25000) it long-polls: it answers
 * as soon as there is a line after N or the run has finished, or when the time is up.
 */
import { NotFoundError } from "../lib/api/errors.ts";
import { LogsQuery } from "../lib/api/schemas.ts";
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { pathId } from "../lib/http/params.ts";
import { LOG_PAGE_LINES, RunWatch } from "../lib/store/follow.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "run_id", "run");
  const query = parseInput(LogsQuery, request.query, "query string");
  const deadline = Date.now() + query.wait_ms;
  const watch = new RunWatch(store, id);
  try {
    for (;;) {
      watch.read();
      const page = await store.getLogs(id, query.after, LOG_PAGE_LINES);
      if (!page) throw new NotFoundError(`run ${id} not found`);
      const left = deadline - Date.now();
      if (page.lines.length || page.done || left <= 0) return { status: 200, body: page, headers: { "Cache-Control": "no-store" } };
      await watch.wait(left);
    }
  } finally {
    watch.close();
  }
}, { route: "/runs/{run_id}/logs" });
