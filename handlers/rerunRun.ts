/**
 * POST /runs/{run_id}/rerun: 202 with a new queued run of the same pipeline, git_ref and stages as the
 * original ran, `rerun_of` it, and its Location. 409 when the pipeline has been deleted.
 */
import { ConflictError, NotFoundError } from "../lib/api/errors.ts";
import { endpoint } from "../lib/http/endpoint.ts";
import { pathId, stagePrefix } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "run_id", "run");
  const result = await store.rerunRun(id);
  if (!result) throw new NotFoundError(`run ${id} not found`);
  if ("pipelineDeleted" in result) throw new ConflictError(`run ${id} cannot be rerun: its pipeline has been deleted`);
  return { status: 202, body: result.run, headers: { Location: `${stagePrefix(request, 3)}/runs/${result.run.id}` } };
}, { route: "/runs/{run_id}/rerun" });
