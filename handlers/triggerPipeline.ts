/**
 * POST /pipelines/{id}/trigger, body `{"git_ref": "main", "env": {"NAME": "value"}}` (both optional): 202
 * with the queued run. With an Idempotency-Key, the same request again within 24 h answers the same run
 * (Idempotent-Replayed: true); the fingerprint covers git_ref and env.
 */
import { NotFoundError } from "../lib/api/errors.ts";
import { TriggerInput, type Run } from "../lib/api/schemas.ts";
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { idempotencyKey, idempotentValue, replayHeaders } from "../lib/http/idempotency.ts";
import { pathId, stagePrefix } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "id", "pipeline");
  const input = parseInput(TriggerInput, request.body ?? {}, "request body");
  const key = idempotencyKey(request, input);
  const reply = (run: Run, replayed: boolean) => ({
    status: 202,
    body: run,
    headers: { Location: `${stagePrefix(request, 3)}/runs/${run.id}`, ...replayHeaders(replayed) },
  });
  if (!key) {
    const run = await store.triggerRun(id, input.git_ref, input.env);
    if (!run) throw new NotFoundError(`pipeline ${id} not found`);
    return reply(run, false);
  }
  const result = await store.triggerRunOnce(id, input.git_ref, key, input.env);
  if (!result) throw new NotFoundError(`pipeline ${id} not found`);
  const { value, replayed } = idempotentValue(result, key);
  return reply(value, replayed);
}, { route: "/pipelines/{id}/trigger" });
