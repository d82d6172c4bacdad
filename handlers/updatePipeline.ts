/** PUT /pipelines/{id}: full replacement, validated as on create. Queued runs keep the stages they were triggered with. */
import { NotFoundError } from "../lib/api/errors.ts";
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { pathId } from "../lib/http/params.ts";
import { PipelineInput } from "../lib/api/schemas.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "id", "pipeline");
  const input = parseInput(PipelineInput, request.body, "request body");
  const pipeline = await store.updatePipeline(id, input);
  if (!pipeline) throw new NotFoundError(`pipeline ${id} not found`);
  return { status: 200, body: pipeline };
}, { route: "/pipelines/{id}" });
