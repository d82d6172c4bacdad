/**
 * The one boundary between Express and the handlers: an Express request becomes an API Gateway v2
 * event, a v2 result becomes an Express response. Nothing else in the project sees either side.
 */
import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";
import type { Request, Response } from "express";

/**
 * An Express request as API Gateway's HTTP API (payload 2.0) would deliver it for `routeKey`; on a
 * named stage, `rawPath` keeps the stage prefix (`/prod/pipelines`) as API Gateway's does.
 */
export function expressRequestToEvent(req: Request, routeKey: string, stage = "$default"): APIGatewayProxyEventV2 {
  // Each property of `req` is read once, and those it may lack not at all: Express gives every request
  // its app's prototype, so a read of one misses V8's caches, and a missing one walks the whole chain.
  // Split by hand: `new URL()` per request was the adapter's largest cost in a profile under load.
  const target = req.originalUrl;
  const mark = target.indexOf("?");
  const rawPath = mark < 0 ? target : target.slice(0, mark);
  const rawQueryString = mark < 0 ? "" : target.slice(mark + 1);
  const incoming = req.headers;
  const headers: Record<string, string> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  // API Gateway joins repeated query parameters with commas.
  const query: Record<string, string> = {};
  if (rawQueryString) for (const [name, value] of new URLSearchParams(rawQueryString)) query[name] = name in query ? `${query[name]},${value}` : value;
  let pathParameters: Record<string, string> | undefined;
  const params = req.params;
  for (const name in params) {
    // A wildcard's segments, as API Gateway gives a greedy parameter: one value, slashes and all.
    const value = params[name]!;
    (pathParameters ??= {})[name] = Array.isArray(value) ? value.join("/") : value;
  }
  // Only routes that take a body have its parser, which sets it. Bytes that are not UTF-8 go as
  // base64, as API Gateway sends a binary body, for the handler to refuse.
  const raw: unknown = Object.hasOwn(req, "body") ? req.body : undefined;
  const bytes = Buffer.isBuffer(raw) && raw.length > 0 ? raw : undefined;
  const text = bytes && isUtf8(bytes);
  const now = Date.now();
  const domainName = hostname(incoming.host);
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey,
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: "local",
      apiId: "local",
      domainName,
      domainPrefix: firstLabel(domainName),
      http: {
        method: req.method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket?.remoteAddress ?? "",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey,
      stage,
      time: requestTime(now),
      timeEpoch: now,
    },
    isBase64Encoded: bytes !== undefined && !text,
  };
  if (rawQueryString && Object.keys(query).length) event.queryStringParameters = query;
  if (pathParameters) event.pathParameters = pathParameters;
  if (bytes) event.body = bytes.toString(text ? "utf8" : "base64");
  return event;
}

/**
 * The Host header without its port, as Express's req.hostname gives it for an app that trusts no proxy
 * (the getter was 1.5% of the emulator's CPU under load); "localhost" for none (serverless-http's
 * requests may carry no Host at all).
 */
function hostname(host: string | undefined): string {
  if (!host) return "localhost";
  const port = host.indexOf(":", host.startsWith("[") ? host.indexOf("]") + 1 : 0);
  return port < 0 ? host : host.slice(0, port);
}

const firstLabel = (domainName: string): string => {
  const dot = domainName.indexOf(".");
  return dot < 0 ? domainName : domainName.slice(0, dot);
};

let timeSecond = NaN;
let timeText = "";

/**
 * `requestContext.time` as API Gateway writes it (`07/Dec/2026:00:13:34 +0000`), formatted once a
 * second: a Date per request was 1% of a GET's CPU.
 */
function requestTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== timeSecond) {
    // toUTCString: "Mon, 07 Dec 2026 00:13:34 GMT"
    const [, day, month, year, time] = new Date(second * 1000).toUTCString().split(" ");
    timeSecond = second;
    timeText = `${day}/${month}/${year}:${time} +0000`;
  }
  return timeText;
}

/** Writes a v2 result (structured, or a bare value that API Gateway would send as JSON). */
export function resultToExpressResponse(result: APIGatewayProxyResultV2, res: Response): void {
  if (typeof result !== "object" || result === null || !("statusCode" in result)) {
    res.status(200).json(result);
    return;
  }
  // The default 200 lives on ServerResponse's prototype: writing it anyway gives every response an own
  // property, 2% of a GET's CPU under load. Headers one by one (not in writeHead): serverless-http
  // reads them back with getHeaders().
  const status = result.statusCode ?? 200;
  if (res.statusCode !== status) res.statusCode = status;
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, String(value));
  if (result.cookies?.length) res.setHeader("Set-Cookie", result.cookies);
  if (result.body === undefined) {
    res.end();
    return;
  }
  const body = result.isBase64Encoded ? Buffer.from(result.body, "base64") : result.body;
  // Node adds Content-Length itself when it sends the body, which a HEAD answer does not; set for
  // every answer it cost 1.3% of a GET's instructions.
  if (res.req.method === "HEAD") res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}
