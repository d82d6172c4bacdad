/**
 * The one boundary between the Lambda event kinds and the endpoint functions: API Gateway REST (v1)
 * proxy events, HTTP API (v2) events, Function URL events (v2 payload, `$default` route, no path
 * parameters) and ALB target events (headers single- or multi-valued) all become one `ApiRequest`.
 */
import type { ALBEvent, APIGatewayProxyEvent, APIGatewayProxyEventV2 } from "aws-lambda";
import { BadRequestError } from "../api/errors.ts";

/** Every event kind a handler accepts. Function URL events have the v2 type (`LambdaFunctionURLEvent`). */
export type ApiEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2 | ALBEvent;

/** Which result shape the event's sender expects: Function URLs answer like v2. */
export type EventKind = "v1" | "v2" | "alb";

export interface EventShape {
  kind: EventKind;
  /** The event carried `multiValueHeaders` (always for v1; for ALB when the target group enables them). */
  multiValueHeaders: boolean;
}

/** The request the endpoint functions receive, whatever the event kind. */
export interface ApiRequest {
  method: string;
  /** The path as the client sent it (with any stage prefix), for building links. */
  path: string;
  params: Record<string, string | undefined>;
  /** Each key once: toApiRequest refuses a key the event shows repeated. */
  query: Record<string, string | undefined>;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string | undefined>;
  /**
   * The event's body: text, or bytes when the event marked it base64 (not yet known to be UTF-8). The
   * body step replaces it with the parsed JSON; undefined when empty.
   */
  body: unknown;
}

/** A route path such as `/pipelines/{id}`, compiled once to read its parameters from a path. */
export interface PathTemplate {
  path: string;
  match(path: string): Record<string, string> | undefined;
}

/** Compiles a route path with `{name}` segments. */
export function pathTemplate(path: string): PathTemplate {
  const names: string[] = [];
  const source = path
    .split(/\{(\w+)\}/)
    .map((part, i) => (i % 2 ? (names.push(part), "([^/]+)") : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")))
    .join("");
  // Anchored at the end only: an ALB rule may forward a prefixed path (`/api/pipelines/...`).
  const pattern = new RegExp(`${source}$`);
  return {
    path,
    match(actual) {
      const found = pattern.exec(actual);
      if (!found) return undefined;
      return Object.fromEntries(names.map((name, i) => [name, decode(found[i + 1] ?? "", false)]));
    },
  };
}

const isAlb = (event: ApiEvent): event is ALBEvent => "elb" in (event.requestContext ?? {});
const isV1 = (event: ApiEvent): event is APIGatewayProxyEvent => !isAlb(event) && "httpMethod" in event;

/** The event's kind, from the fields each kind alone carries; anything else is taken for v2. */
export function eventShape(event: ApiEvent): EventShape {
  const kind: EventKind = isAlb(event) ? "alb" : isV1(event) ? "v1" : "v2";
  return { kind, multiValueHeaders: kind !== "v2" && Boolean((event as ALBEvent).multiValueHeaders) };
}

/**
 * Turns any event kind into an `ApiRequest`. Path parameters come from the event where API Gateway
 * matched a route; ALB and Function URLs have no route templates, so `route` supplies them.
 * A query parameter the event shows repeated is a 400 naming it: which value was meant is unknown.
 */
export function toApiRequest(event: ApiEvent, route?: PathTemplate): ApiRequest {
  const { method, path, routePath, params, query, repeated } = isAlb(event) ? fromAlb(event) : isV1(event) ? fromV1(event) : fromV2(event);
  if (repeated !== undefined) throw new BadRequestError(`query parameter ${repeated} is repeated`, [{ path: repeated, message: `${repeated} must be given once` }]);
  return {
    method,
    path,
    params: params ?? route?.match(routePath) ?? {},
    query,
    headers: headersOf(event),
    body: bodyOf(event),
  };
}

interface Parts {
  method: string;
  path: string;
  /** The path to match a route template against (without the v1 stage prefix). */
  routePath: string;
  params: Record<string, string | undefined> | null | undefined;
  query: Record<string, string | undefined>;
  /** A query key the event shows sent more than once. */
  repeated?: string | undefined;
}

function fromV1(event: APIGatewayProxyEvent): Parts {
  // `path` is the resource path; `requestContext.path` is what the client asked for, `/prod/...` on a named stage.
  const multi = event.multiValueQueryStringParameters;
  const query = (multi ? singleValues(multi) : event.queryStringParameters) ?? {};
  const repeated = multi ? repeatedKey(Object.entries(multi)) : undefined;
  return { method: event.httpMethod, path: event.requestContext?.path ?? event.path, routePath: event.path, params: event.pathParameters, query, repeated };
}

function fromV2(event: APIGatewayProxyEventV2): Parts {
  // rawPath keeps a named stage's prefix. HTTP API joins a repeated key's values with commas, so a
  // repeat shows only in rawQueryString, read when a value has a comma; an event without it cannot show one.
  const path = event.rawPath ?? "/";
  const query = event.queryStringParameters ?? {};
  const joined = event.rawQueryString && Object.values(query).some((value) => value?.includes(","));
  const repeated = joined ? repeatedKey([...new URLSearchParams(event.rawQueryString)]) : undefined;
  return { method: event.requestContext?.http?.method ?? "GET", path, routePath: path, params: event.pathParameters, query, repeated };
}

function fromAlb(event: ALBEvent): Parts {
  // ALB passes query keys and values percent-encoded (`%6Cimit` and `limit` are one key); without
  // multi-value headers it keeps only the last of a repeated key's values, so a repeat cannot show.
  const raw: Record<string, unknown> = event.multiValueQueryStringParameters ?? event.queryStringParameters ?? {};
  const pairs = Object.entries(raw).map(([key, value]): [string, unknown] => [decode(key, true), decodeValue(value)]);
  return { method: event.httpMethod, path: event.path, routePath: event.path, params: undefined, query: singleValues(Object.fromEntries(pairs)), repeated: repeatedKey(pairs) };
}

const decodeValue = (value: unknown): unknown =>
  Array.isArray(value) ? value.map(decodeValue) : value === undefined || value === null ? value : decode(String(value), true);

/** The first key that appears twice, or whose value is a list of more than one. */
function repeatedKey(pairs: Iterable<[string, unknown]>): string | undefined {
  const seen = new Set<string>();
  for (const [key, value] of pairs) {
    if (seen.has(key) || (Array.isArray(value) && value.length > 1)) return key;
    seen.add(key);
  }
  return undefined;
}

/**
 * A header or query value as a string, whatever a hand-built event put there (API Gateway sends strings
 * and string arrays; a custom adapter may not): no event shape may turn into a 500.
 */
const asText = (value: unknown, separator: string): string | undefined =>
  value === undefined || value === null ? undefined : Array.isArray(value) ? value.map(String).join(separator) : String(value);

function headersOf(event: ApiEvent): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = asText(value, ", ");
  // v1 sends both maps (the multi-valued one is complete); ALB sends one or the other.
  const multi = "multiValueHeaders" in event ? event.multiValueHeaders : undefined;
  for (const [name, values] of Object.entries(multi ?? {})) {
    const text = asText(values, ", ");
    if (text) headers[name.toLowerCase()] = text;
  }
  // v2 and Function URLs take Cookie out of the headers into `cookies`.
  if ("cookies" in event && event.cookies?.length) headers.cookie = asText(event.cookies, "; ");
  return headers;
}

/** The body as text, or as bytes when the event sent it base64 (the body step checks they are UTF-8). */
function bodyOf(event: ApiEvent): string | Buffer | undefined {
  const { body, isBase64Encoded } = event as { body?: unknown; isBase64Encoded?: boolean };
  if (body === undefined || body === null || body === "") return undefined;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return isBase64Encoded ? Buffer.from(text, "base64") : text;
}

/** A multi-value map with one value a key (a repeat is refused before any value is read). */
function singleValues(multi: Record<string, unknown>): Record<string, string | undefined> {
  const single: Record<string, string | undefined> = {};
  for (const [key, values] of Object.entries(multi)) single[key] = asText(values, ",");
  return single;
}

/** Percent-decoding (`+` is a space in a query, not in a path); a malformed escape is kept as sent rather than failing the request. */
function decode(value: string, query: boolean): string {
  try {
    return decodeURIComponent(query ? value.replace(/\+/g, " ") : value);
  } catch {
    return value;
  }
}
