/**
 * The shared middy stack, applied by one helper so that a handler file holds only its business logic:
 * header normalisation, problem+json errors, services, token check, JSON body. Handlers take an
 * API Gateway v2 event and return a v2 result.
 */
import middy from "@middy/core";
import httpHeaderNormalizer from "@middy/http-header-normalizer";
import httpJsonBodyParser from "@middy/http-json-body-parser";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type * as z from "zod";
import { BadRequestError, PayloadTooLargeError, UnauthorizedError, ValidationError } from "../errors.ts";
import { problemResult } from "./problem.ts";
import { servicesFromEnvironment, type HandlerContext, type Services } from "./services.ts";

/** Largest request body accepted: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiRequest {
  method: string;
  /** The path as received (with any stage prefix), for building links. */
  path: string;
  params: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  /** Parsed JSON, or undefined when the request had no body. */
  body: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Endpoint = (request: ApiRequest, services: Services) => Promise<Reply>;

/** A handler as deployed, with its business function alongside (benchmarks compare the two). */
export type ApiHandler = middy.MiddyfiedHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, HandlerContext> & {
  endpoint: Endpoint;
};

export interface EndpointOptions {
  /** Require a token (every endpoint but the health check). Default true. */
  auth?: boolean;
}

/** Validates `value` against `schema`; a 400 naming each bad field otherwise. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(what, result.error);
  return result.data;
}

type Request = middy.Request<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, HandlerContext>;

// 6.4.5 implements `disableContentTypeCheck` but its typings do not declare it yet.
const jsonParser = httpJsonBodyParser({ disableContentTypeCheck: true } as Parameters<typeof httpJsonBodyParser>[0]);

/**
 * JSON whatever the Content-Type says (`curl -d` sends form-urlencoded); malformed JSON is a 400 and
 * a body over 1 MiB a 413, where middy's parser alone would answer 415 for both.
 */
const jsonBody: middy.MiddlewareObj<APIGatewayProxyEventV2> = {
  before: async (request) => {
    const { body, isBase64Encoded } = request.event;
    if (body === undefined || body === null || body === "") {
      request.event.body = undefined;
      return;
    }
    const size = isBase64Encoded ? Buffer.byteLength(body, "base64") : Buffer.byteLength(body);
    if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
    try {
      await jsonParser.before!(request as never);
    } catch (thrown) {
      const reason = (thrown as { cause?: { message?: string } }).cause?.message;
      throw new BadRequestError(`request body is not valid JSON${reason ? `: ${reason}` : ""}`);
    }
  },
};

const withServices = (request: Request): Services => (request.context.services ??= servicesFromEnvironment());

/** Wraps business logic in the shared middy stack. */
export function endpoint(fn: Endpoint, opts: EndpointOptions = {}): ApiHandler {
  const auth = opts.auth ?? true;
  const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, HandlerContext>({ timeoutEarlyInMillis: 0 })
    .use(httpHeaderNormalizer())
    .use({
      onError: (request) => {
        request.response = problemResult(request.error, request.context.services?.log);
      },
    })
    .use({
      before: (request) => {
        const services = withServices(request);
        if (auth && !services.tokens.accepts(request.event.headers?.authorization)) throw new UnauthorizedError();
      },
    })
    .use(jsonBody)
    .handler(async (event, context) => {
      const reply = await fn(toApiRequest(event), context.services!);
      return toResult(reply);
    });
  return Object.assign(handler, { endpoint: fn });
}

export function toApiRequest(event: APIGatewayProxyEventV2): ApiRequest {
  return {
    method: event.requestContext?.http?.method ?? "GET",
    path: event.rawPath ?? "/",
    params: event.pathParameters ?? {},
    query: event.queryStringParameters ?? {},
    body: event.body as unknown,
  };
}

export function toResult(reply: Reply): APIGatewayProxyStructuredResultV2 {
  if (reply.body === undefined) return { statusCode: reply.status, headers: reply.headers ?? {} };
  return {
    statusCode: reply.status,
    headers: { "Content-Type": "application/json", ...reply.headers },
    body: JSON.stringify(reply.body),
  };
}
