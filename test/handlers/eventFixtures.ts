/**
 * Events of every kind a handler accepts, built from one description of the client's request, in the
 * shapes AWS documents: REST API (v1) proxy events from a named stage, HTTP API (v2) events from a
 * named stage, Lambda Function URL events (payload 2.0, `$default` route and stage, no path
 * parameters) and ALB target events with multi-value headers off and on.
 *
 * Header names keep the client's case for every kind. AWS lower-cases them for v2, Function URLs and
 * ALB, so this is the harder case for the normaliser, and it covers events built by other tools.
 */
import type { ALBEvent, APIGatewayProxyEvent, APIGatewayProxyEventV2 } from "aws-lambda";
import { expect } from "vitest";
import { routes, type Route } from "../../handlers/routes.ts";
import type { ApiEvent, EventKind } from "../../lib/http/events.ts";
import type { ApiResult } from "../../lib/http/results.ts";

/** A request as the client makes it. */
export interface ClientRequest {
  method: string;
  /** The path the client used, stage prefix included, with its query string (percent-encoded). */
  path: string;
  /** Names in any case; an array is a header sent several times. */
  headers?: Record<string, string | string[]>;
  /** undefined: the kind's own form of "no body"; null: an explicit null body. */
  body?: string | null;
  /** Send the body base64-encoded with `isBase64Encoded: true`. */
  base64?: boolean;
}

/** The route API Gateway matched (ALB and Function URLs match none; their events ignore it). */
export interface MatchedRoute {
  path: string;
  params: Record<string, string>;
}

export interface EventKindFixture {
  name: string;
  /** The result shape this kind expects. */
  kind: EventKind;
  multiValueHeaders: boolean;
  /** What precedes the route path in the client's path (`/prod` on a named API Gateway stage). */
  stagePrefix: string;
  event(request: ClientRequest, route: MatchedRoute): ApiEvent;
}

const TIME = "28/Nov/2026:12:00:00 +0000";
const EPOCH = 1_795_867_200_000;

interface Parts {
  pathname: string;
  rawQuery: string;
  /** [name, value] in order, percent-encoded as sent. */
  rawPairs: [string, string][];
  /** The same, decoded, as API Gateway delivers them. */
  pairs: [string, string][];
  /** [name, values] in the order first sent. */
  headers: [string, string[]][];
  body: string | null | undefined;
}

function parts(request: ClientRequest): Parts {
  const mark = request.path.indexOf("?");
  const pathname = mark < 0 ? request.path : request.path.slice(0, mark);
  const rawQuery = mark < 0 ? "" : request.path.slice(mark + 1);
  const rawPairs = rawQuery
    .split("&")
    .filter(Boolean)
    .map((pair): [string, string] => {
      const eq = pair.indexOf("=");
      return eq < 0 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
    });
  const headers = Object.entries(request.headers ?? {}).map(([name, value]): [string, string[]] => [name, Array.isArray(value) ? value : [value]]);
  const { body } = request;
  const encoded = typeof body === "string" && request.base64 ? Buffer.from(body).toString("base64") : body;
  return { pathname, rawQuery, rawPairs, pairs: [...new URLSearchParams(rawQuery)], headers, body: encoded };
}

/** Single-value maps keep the last value sent, as v1 `headers` and ALB without multi-value do. */
const lastValues = (pairs: [string, string][]) => Object.fromEntries(pairs);
const allValues = (pairs: [string, string][]) => {
  const map: Record<string, string[]> = {};
  for (const [name, value] of pairs) (map[name] ??= []).push(value);
  return map;
};
const flat = (headers: [string, string[]][]) => headers.flatMap(([name, values]) => values.map((v): [string, string] => [name, v]));
const orNull = <T extends object>(map: T): T | null => (Object.keys(map).length ? map : null);

function restEvent(request: ClientRequest, route: MatchedRoute, stage: string): APIGatewayProxyEvent {
  const p = parts(request);
  return {
    resource: route.path,
    // `path` is the resource path; `requestContext.path` carries the stage the client called.
    path: p.pathname.slice(stage.length + 1),
    httpMethod: request.method,
    headers: lastValues(flat(p.headers)),
    multiValueHeaders: allValues(flat(p.headers)),
    queryStringParameters: orNull(lastValues(p.pairs)),
    multiValueQueryStringParameters: orNull(allValues(p.pairs)),
    pathParameters: orNull(route.params),
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: "a1b2c3d4e5",
      authorizer: undefined,
      domainName: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "a1b2c3d4e5",
      extendedRequestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      httpMethod: request.method,
      identity: {
        accessKey: null, accountId: null, apiKey: null, apiKeyId: null, caller: null, clientCert: null,
        cognitoAuthenticationProvider: null, cognitoAuthenticationType: null, cognitoIdentityId: null,
        cognitoIdentityPoolId: null, principalOrgId: null, sourceIp: "198.51.100.7", user: null, userAgent: "test", userArn: null,
      },
      path: p.pathname,
      protocol: "HTTP/1.1",
      requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      requestTime: TIME,
      requestTimeEpoch: EPOCH,
      resourceId: "roq9wj",
      resourcePath: route.path,
      stage,
    },
    body: p.body ?? null,
    isBase64Encoded: Boolean(request.base64),
  };
}

/** HTTP API (v2) and Function URL events: repeated headers and query keys joined with commas, cookies apart. */
function v2Event(request: ClientRequest, opts: { routeKey: string; stage: string; domainName: string; params?: Record<string, string> }): APIGatewayProxyEventV2 {
  const p = parts(request);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, values] of p.headers) {
    if (name.toLowerCase() === "cookie") cookies = values.flatMap((v) => v.split(/;\s*/));
    else headers[name] = values.join(",");
  }
  const query: Record<string, string> = {};
  for (const [name, value] of p.pairs) query[name] = name in query ? `${query[name]},${value}` : value;
  const http = { method: request.method, path: p.pathname, protocol: "HTTP/1.1", sourceIp: "198.51.100.7", userAgent: "test" };
  return {
    version: "2.0",
    routeKey: opts.routeKey,
    rawPath: p.pathname,
    rawQueryString: p.rawQuery,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(opts.params && Object.keys(opts.params).length ? { pathParameters: opts.params } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: opts.domainName.split(".")[0]!,
      domainName: opts.domainName,
      domainPrefix: opts.domainName.split(".")[0]!,
      http,
      requestId: "JKJaXmPLvHcESHA=",
      routeKey: opts.routeKey,
      stage: opts.stage,
      time: TIME,
      timeEpoch: EPOCH,
    },
    // HTTP API and Function URLs leave `body` out when there is none.
    ...(p.body === undefined ? {} : { body: p.body as string }),
    isBase64Encoded: Boolean(request.base64),
  };
}

/** ALB: query keys and values stay percent-encoded; one map or the other, as the target group is set. */
function albEvent(request: ClientRequest, multiValue: boolean): ALBEvent {
  const p = parts(request);
  const fields = multiValue
    ? { multiValueHeaders: allValues(flat(p.headers)), multiValueQueryStringParameters: allValues(p.rawPairs) }
    : { headers: lastValues(flat(p.headers)), queryStringParameters: lastValues(p.rawPairs) };
  return {
    requestContext: { elb: { targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/stagerunner/6d0ecf831eec9f09" } },
    httpMethod: request.method,
    path: p.pathname,
    ...fields,
    // ALB sends an empty string when there is no body.
    body: p.body === undefined ? "" : p.body,
    isBase64Encoded: Boolean(request.base64),
  };
}

/** The four kinds, ALB twice (multi-value headers off and on). */
export const eventKinds: EventKindFixture[] = [
  {
    name: "REST API (v1), stage prod",
    kind: "v1",
    multiValueHeaders: true,
    stagePrefix: "/prod",
    event: (request, route) => restEvent(request, route, "prod"),
  },
  {
    name: "HTTP API (v2), stage prod",
    kind: "v2",
    multiValueHeaders: false,
    stagePrefix: "/prod",
    event: (request, route) =>
      v2Event(request, { routeKey: `${request.method} ${route.path}`, stage: "prod", domainName: "r3pmxmplak.execute-api.us-east-1.amazonaws.com", params: route.params }),
  },
  {
    name: "Function URL",
    kind: "v2",
    multiValueHeaders: false,
    stagePrefix: "",
    event: (request) => v2Event(request, { routeKey: "$default", stage: "$default", domainName: "abcdefghij.lambda-url.us-east-1.on.aws" }),
  },
  { name: "ALB", kind: "alb", multiValueHeaders: false, stagePrefix: "", event: (request) => albEvent(request, false) },
  { name: "ALB, multi-value headers", kind: "alb", multiValueHeaders: true, stagePrefix: "", event: (request) => albEvent(request, true) },
];

/** The route table's entry for a stage-less path, with its path parameters decoded. */
export function routeFor(method: string, pathname: string): { route: Route; params: Record<string, string> } {
  for (const r of routes) {
    const names: string[] = [];
    const pattern = new RegExp(`^${r.path.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), "([^/]+)"))}$`);
    const found = r.method === method ? pattern.exec(pathname) : null;
    if (found) return { route: r, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1]!)])) };
  }
  throw new Error(`test bug: no route for ${method} ${pathname}`);
}

/** The event `fixture`'s sender builds for `request` (whose path is stage-less), and the route it is for. */
export function eventFor(fixture: EventKindFixture, request: ClientRequest): { route: Route; event: ApiEvent } {
  const url = `${fixture.stagePrefix}${request.path}`;
  const { route, params } = routeFor(request.method, request.path.split("?")[0]!);
  return { route, event: fixture.event({ ...request, path: url }, { path: route.path, params }) };
}

export interface Answer {
  status: number;
  /** Lower-case names, from `headers` or `multiValueHeaders`. */
  headers: Record<string, string>;
  body: any;
}

/** The keys each kind's result must have, and no others. */
function expectedKeys(fixture: EventKindFixture, hasBody: boolean): string[] {
  if (fixture.kind === "v2") return hasBody ? ["body", "headers", "statusCode"] : ["headers", "statusCode"];
  if (fixture.kind === "v1") return ["body", "headers", "multiValueHeaders", "statusCode"];
  return ["body", fixture.multiValueHeaders ? "multiValueHeaders" : "headers", "isBase64Encoded", "statusCode", "statusDescription"];
}

/** Checks that `result` has exactly the shape `fixture`'s kind expects, and reads it. */
export function readResult(fixture: EventKindFixture, result: ApiResult): Answer {
  const r = result as { statusCode: number; statusDescription?: string; headers?: Record<string, unknown>; multiValueHeaders?: Record<string, unknown[]>; body?: string };
  const hasBody = r.body !== undefined && r.body !== "";
  expect(Object.keys(r).sort()).toEqual(expectedKeys(fixture, hasBody).sort());
  if (fixture.kind === "alb") expect(r.statusDescription).toMatch(new RegExp(`^${r.statusCode} [A-Z]`));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = String(value);
  for (const [name, values] of Object.entries(r.multiValueHeaders ?? {})) {
    expect(values).toHaveLength(1);
    expect(String(values[0])).toBe(headers[name.toLowerCase()] ?? String(values[0]));
    headers[name.toLowerCase()] = String(values[0]);
  }
  return { status: r.statusCode, headers, body: hasBody ? JSON.parse(r.body!) : undefined };
}
