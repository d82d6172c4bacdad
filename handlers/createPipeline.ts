/**
 * POST /pipelines: 201 with the pipeline and its Location. With an Idempotency-Key, the same request
 * again within 24 h answers the same pipeline (Idempotent-Replayed: true).
 */
import { PipelineInput } from "../lib/api/schemas.ts";
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { idempotencyKey, idempotentValue, replayHeaders } from "../lib/http/idempotency.ts";
import { stagePrefix } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const input = parseInput(PipelineInput, request.body, "request body");
  const key = idempotencyKey(request, input);
  const { value: pipeline, replayed } = key ? idempotentValue(await store.createPipelineOnce(input, key), key) : { value: await store.createPipeline(input), replayed: false };
  return { status: 201, body: pipeline, headers: { Location: `${stagePrefix(request, 1)}/pipelines/${pipeline.id}`, ...replayHeaders(replayed) } };
});
