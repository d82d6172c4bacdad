/**
 * Two ways to call the API, so that one suite runs over both: invoking the handlers directly with
 * API Gateway v2 events, and HTTP through the real emulator.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { tokenChecker } from "../../lib/http/auth.ts";
import { loadServerConfig } from "../../lib/config/serverSettings.ts";
import type { HandlerContext, Services } from "../../lib/http/services.ts";
import { MemoryStore } from "../../lib/store/memory/memoryStore.ts";
import type { Store } from "../../lib/store/store.ts";
import { startServer } from "../../local/server.ts";
import { routeFor } from "./eventFixtures.ts";

export const TOKEN = "secret";

export interface Call {
  method: string;
  /** Path with query string. */
  path: string;
  /** A value is sent as JSON; a string is sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

export interface Invoker {
  name: string;
  store: Store;
  call(call: Call): Promise<Answer>;
  close(): Promise<void>;
}

const rawBody = (body: unknown) => (body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body));

/** A v2 event as API Gateway's HTTP API sends it. */
export function v2Event(method: string, path: string, routePath: string, params: Record<string, string>, headers: Record<string, string>, body?: string): APIGatewayProxyEventV2 {
  const url = new URL(path, "http://localhost");
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  return {
    version: "2.0",
    routeKey: `${method} ${routePath}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: { host: "localhost", ...headers },
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(Object.keys(params).length ? { pathParameters: params } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "localhost",
      domainPrefix: "localhost",
      http: { method, path: url.pathname, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: "req",
      routeKey: `${method} ${routePath}`,
      stage: "$default",
      time: "28/Nov/2026:00:00:00 +0000",
      timeEpoch: 0,
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  };
}

export function directInvoker(): Invoker {
  const store = new MemoryStore();
  const services: Services = { store, tokens: tokenChecker([TOKEN, "other-token"]), log: () => {} };
  return {
    name: "handlers invoked with v2 events",
    store,
    async call({ method, path, body, headers = {} }) {
      const { route, params } = routeFor(method, new URL(path, "http://localhost").pathname);
      const event = v2Event(method, path, route.path, params, headers, rawBody(body));
      const result = (await route.handler(event, { services } as HandlerContext)) as APIGatewayProxyStructuredResultV2;
      const h = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
      return { status: result.statusCode ?? 200, headers: h, body: result.body ? JSON.parse(result.body) : undefined };
    },
    close: async () => {},
  };
}

export async function emulatorInvoker(): Promise<Invoker> {
  const server = await startServer(loadServerConfig({ port: "0", token: `${TOKEN},other-token`, workers: "0" }, {}));
  return {
    name: "HTTP through the emulator",
    store: server.store,
    async call({ method, path, body, headers = {} }) {
      const response = await fetch(server.url + path, { method, headers, body: rawBody(body) ?? null });
      const text = await response.text();
      return { status: response.status, headers: Object.fromEntries(response.headers), body: text ? JSON.parse(text) : undefined };
    },
    close: async () => void (await server.close(0)),
  };
}
