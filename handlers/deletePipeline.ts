/**
 * DELETE /pipelines/{id}: 204. Its queued runs end cancelled; a running run is cancelled too (its
 * current stage is aborted). The runs stay readable under /runs.
 */
import { NotFoundError } from "../lib/api/errors.ts";
import { endpoint } from "../lib/http/endpoint.ts";
import { pathId } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "id", "pipeline");
  if (!(await store.deletePipeline(id))) throw new NotFoundError(`pipeline ${id} not found`);
  return { status: 204 };
}, { route: "/pipelines/{id}" });
