/** POST /pipelines: 201 with the pipeline and its Location. */
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { stagePrefix } from "../lib/http/params.ts";
import { PipelineInput } from "../lib/api/schemas.ts";

export const handler = endpoint(async (request, { store }) => {
  const input = parseInput(PipelineInput, request.body, "request body");
  const pipeline = await store.createPipeline(input);
  return { status: 201, body: pipeline, headers: { Location: `${stagePrefix(request, 1)}/pipelines/${pipeline.id}` } };
});
