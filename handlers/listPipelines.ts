/** GET /pipelines: pipelines in creation order, paginated. */
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { pageReply } from "../lib/http/params.ts";
import { ListPipelinesQuery } from "../lib/api/schemas.ts";

export const handler = endpoint(async (request, { store }) => {
  const query = parseInput(ListPipelinesQuery, request.query, "query string");
  return pageReply(request, await store.listPipelines(query));
});
