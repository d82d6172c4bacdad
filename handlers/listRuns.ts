/** GET /runs?pipeline_id=&status=: newest first, paginated. */
import { endpoint, parseInput } from "../lib/http/endpoint.ts";
import { pageReply } from "../lib/http/params.ts";
import { ListRunsQuery } from "../lib/api/schemas.ts";

export const handler = endpoint(async (request, { store }) => {
  const query = parseInput(ListRunsQuery, request.query, "query string");
  return pageReply(request, await store.listRuns(query));
});
