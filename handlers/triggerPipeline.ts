/** POST /pipelines/{id}/trigger, body `{"git_ref": "main"}` (optional): 202 with the queued run. */
import { NotFoundError } from "../lib/api/errors.ts";
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { pathId, stagePrefix } from "../lib/http/params.ts";
import { TriggerInput } from "../lib/api/schemas.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "id", "pipeline");
  const input = parseInput(TriggerInput, request.body ?? {}, "request body");
  const run = await store.triggerRun(id, input.git_ref);
  if (!run) throw new NotFoundError(`pipeline ${id} not found`);
  return { status: 202, body: run, headers: { Location: `${stagePrefix(request, 3)}/runs/${run.id}` } };
}, { route: "/pipelines/{id}/trigger" });
