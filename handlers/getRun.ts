/** GET /runs/{run_id} */
import { NotFoundError } from "../lib/api/errors.ts";
import { endpoint } from "../lib/http/endpoint.ts";
import { pathId } from "../lib/http/params.ts";

export const handler = endpoint(async (request, { store }) => {
  const id = pathId(request, "run_id", "run");
  const run = await store.getRun(id);
  if (!run) throw new NotFoundError(`run ${id} not found`);
  return { status: 200, body: run };
}, { route: "/runs/{run_id}" });
