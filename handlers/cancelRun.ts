/**
 * POST /runs/{run_id}/cancel, body `{"reason": "..."}` (optional): 202 with the run. A queued run is
 * cancelled at once; a running one carries `cancel_requested_at` until its worker has stopped it.
 * 409 once the run has finished.
 */
import { ConflictError, NotFoundError } from "../lib/api/errors.ts";
import { CancelInput } from "../lib/api/schemas.ts";
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { pathId } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "run_id", "run");
  const input = parseInput(CancelInput, request.body ?? {}, "request body");
  const result = await store.cancelRun(id, input.reason);
  if (!result) throw new NotFoundError(`run ${id} not found`);
  if (result.outcome === "finished") throw new ConflictError(`run ${id} has already finished (${result.run.status})`);
  return { status: 202, body: result.run };
}, { route: "/runs/{run_id}/cancel" });
