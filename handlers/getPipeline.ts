/** GET /pipelines/{id} */
import { NotFoundError } from "../lib/api/errors.ts";
import { endpoint } from "../lib/http/endpoint.ts";
import { pathId } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "id", "pipeline");
  const pipeline = await store.getPipeline(id);
  if (!pipeline) throw new NotFoundError(`pipeline ${id} not found`);
  return { status: 200, body: pipeline };
}, { route: "/pipelines/{id}" });
