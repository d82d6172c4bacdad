/**
 * The shared middy stack, applied by one helper so that a handler file holds only its business logic:
 * event normalisation, problem+json errors, services, token check, JSON body. Handlers take any
 * API Gateway (v1, v2), Function URL or ALB event and answer in that event's result shape; the
 * translation both ways lives in events.ts and results.ts.
 */
import middy from "@middy/core";
import httpJsonBodyParser from "@middy/http-json-body-parser";
import type * as z from "zod/mini";
import { BadRequestError, PayloadTooLargeError, UnauthorizedError, ValidationError } from "../api/errors.ts";
import { eventShape, pathTemplate, toApiRequest, type ApiEvent, type ApiRequest } from "./events.ts";
import { problemResult } from "./problem.ts";
import { shapeResult, toResult, type ApiResult, type Reply } from "./results.ts";
import { servicesFromEnvironment, type HandlerContext, type Services } from "./services.ts";

export type { ApiRequest } from "./events.ts";
export type { Reply } from "./results.ts";
export { toApiRequest } from "./events.ts";
export { toResult } from "./results.ts";

/** Largest request body accepted: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

export type Endpoint = (request: ApiRequest, services: Services) => Promise<Reply>;

/** A handler as deployed, with its business function (benchmarks compare the two) and route path alongside. */
export type ApiHandler = middy.MiddyfiedHandler<ApiEvent, ApiResult, Error, HandlerContext> & {
  endpoint: Endpoint;
  route: string | undefined;
};

export interface EndpointOptions {
  /** Require a token (every endpoint but the health check). Default true. */
  auth?: boolean;
  /**
   * The route path with its `{param}` segments, for endpoints that read path parameters: ALB and
   * Function URL events carry none, so they are read from the path with it.
   */
  route?: string;
}

/** Validates `value` against `schema`; a 400 naming each bad field otherwise. */
export function parseInput<S extends z.ZodMiniType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(what, result.error);
  return result.data;
}

type Request = middy.Request<ApiEvent, ApiResult, Error, HandlerContext>;

/**
 * Each invocation's normalised request. middy hands the handler only the event, so the first step
 * swaps in a shallow copy of the event (never shared by two invocations, even when a caller reuses
 * an event object) and keys the request by it.
 */
const normalised = new WeakMap<ApiEvent, ApiRequest>();
const requestOf = (event: ApiEvent): ApiRequest => normalised.get(event)!;

// 6.4.5 implements `disableContentTypeCheck` but its typings do not declare it yet.
const jsonParser = httpJsonBodyParser({ disableContentTypeCheck: true } as Parameters<typeof httpJsonBodyParser>[0]);

/**
 * JSON whatever the Content-Type says (`curl -d` sends form-urlencoded); malformed JSON is a 400 and
 * a body over 1 MiB (after base64 decoding) a 413, where middy's parser alone would answer 415 for both.
 * Resolves at once (no promise) when there is no body.
 */
function parseBody(apiRequest: ApiRequest): Promise<void> | undefined {
  if (typeof apiRequest.body !== "string") return undefined;
  if (Buffer.byteLength(apiRequest.body) > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  // The parser reads and rewrites `event.body`; it is given the normalised text and headers.
  const parsing = { event: { headers: apiRequest.headers, body: apiRequest.body, isBase64Encoded: false } };
  return Promise.resolve(jsonParser.before!(parsing as never)).then(
    () => void (apiRequest.body = parsing.event.body),
    (thrown) => {
      const reason = (thrown as { cause?: { message?: string } }).cause?.message;
      throw new BadRequestError(`request body is not valid JSON${reason ? `: ${reason}` : ""}`);
    },
  );
}

/** Wraps business logic in the shared middy stack. */
export function endpoint(fn: Endpoint, opts: EndpointOptions = {}): ApiHandler {
  const auth = opts.auth ?? true;
  const route = opts.route === undefined ? undefined : pathTemplate(opts.route);
  /** The token check and the body, once the services are known. */
  const admit = (apiRequest: ApiRequest, services: Services): Promise<void> | undefined => {
    if (auth && !services.tokens.accepts(apiRequest.headers.authorization)) throw new UnauthorizedError();
    return parseBody(apiRequest);
  };
  const handler = middy<ApiEvent, ApiResult, Error, HandlerContext>({ timeoutEarlyInMillis: 0 })
    // One step before the handler, synchronous for a request without a body when the services are
    // already in the context (the emulator): each middy step is an await per request.
    // The event is translated once: toApiRequest replaces @middy/http-header-normalizer, lower-casing
    // names and merging v1/ALB multiValueHeaders, which the token check must see.
    .use({
      before: (request: Request) => {
        request.event = { ...request.event };
        const apiRequest = toApiRequest(request.event, route);
        normalised.set(request.event, apiRequest);
        const { services } = request.context;
        if (services) return admit(apiRequest, services);
        // A deployed function builds them once, on its first request.
        return servicesFromEnvironment().then((built) => admit(apiRequest, (request.context.services = built)));
      },
    })
    .use({
      onError: (request: Request) => {
        request.response = shapeResult(problemResult(request.error, request.context.services?.log), eventShape(request.event));
      },
    })
    .handler(async (event, context) => {
      const reply = await fn(requestOf(event), context.services!);
      return toResult(reply, eventShape(event));
    });
  return Object.assign(handler, { endpoint: fn, route: opts.route });
}
