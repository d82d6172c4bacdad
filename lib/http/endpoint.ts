/**
 * The shared middy stack, applied by one helper so that a handler file holds only its business logic.
 * Handlers take any API Gateway (v1, v2), Function URL or ALB event and answer in that event's result
 * shape; the translation both ways lives in events.ts and results.ts, the steps in middlewares.ts.
 */
import middy from "@middy/core";
import httpErrorHandler from "@middy/http-error-handler";
import type * as z from "zod/mini";
import { ValidationError } from "../api/errors.ts";
import { eventShape, pathTemplate, type ApiEvent, type ApiRequest } from "./events.ts";
import { normaliseEvent, parseBody, problemError, problemResponse, provideServices, requireToken } from "./middlewares.ts";
import { INTERNAL_ERROR_BODY } from "./problem.ts";
import { toResult, type ApiResult, type Reply } from "./results.ts";
import type { HandlerContext, Services } from "./services.ts";

export type { ApiRequest } from "./events.ts";
export type { Reply } from "./results.ts";
export { toApiRequest } from "./events.ts";
export { toResult } from "./results.ts";
export { MAX_BODY_BYTES } from "./body.ts";

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

/** Errors go out as RFC 9457 problem+json; anything unexpected as a bare 500, logged by problemError. */
const errorHandler = httpErrorHandler({ logger: false, fallbackMessage: INTERNAL_ERROR_BODY });

/** Wraps business logic in the shared middy stack. */
export function endpoint(fn: Endpoint, opts: EndpointOptions = {}): ApiHandler {
  const route = opts.route === undefined ? undefined : pathTemplate(opts.route);
  const handler = middy<ApiEvent, ApiResult, Error, HandlerContext>({ timeoutEarlyInMillis: 0 })
    .use([normaliseEvent(route), provideServices, ...(opts.auth === false ? [] : [requireToken]), parseBody])
    // onError steps run in reverse order of .use: problemError, errorHandler, then problemResponse.
    .use([problemResponse, errorHandler, problemError])
    .handler(async (event, context) => toResult(await fn(context.apiRequest!, context.services!), eventShape(event)));
  return Object.assign(handler, { endpoint: fn, route: opts.route });
}
