/**
 * Small helpers that handlers share for path ids and list pages.
 */
import { NotFoundError } from "../api/errors.ts";
import { IdParam } from "../api/schemas.ts";
import type { Page } from "../store/store.ts";
import type { ApiRequest, Reply } from "./endpoint.ts";

/** The path id in lower case (an upper-case UUID names the same thing), or a 404 when it cannot name anything. */
export function pathId(request: ApiRequest, name: string, what: string): string {
  const value = request.params[name];
  const id = IdParam.safeParse(value);
  if (!id.success) throw new NotFoundError(value ? `${what} ${value} not found` : `${what} not found`);
  return id.data;
}

/** 200 with the page's items; a `Link: <...>; rel="next"` header when more remain. */
export function pageReply<T>(request: ApiRequest, page: Page<T>): Reply {
  if (!page.next) return { status: 200, body: page.items };
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query)) if (value !== undefined && key !== "cursor") query.set(key, value);
  query.set("cursor", page.next);
  return { status: 200, body: page.items, headers: { Link: `<${request.path}?${query}>; rel="next"` } };
}

/**
 * What precedes the route in the path the client used (`/prod` on a named API Gateway stage or under
 * `--base-path`), given how many segments the route has; Location headers need it to be followable.
 */
export function stagePrefix(request: ApiRequest, routeSegments: number): string {
  const segments = request.path.split("/");
  return segments.slice(0, Math.max(1, segments.length - routeSegments)).join("/");
}
