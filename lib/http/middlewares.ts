/**
 * The middy steps every endpoint shares, one concern each: the event as an ApiRequest in the context,
 * the services, the token, the JSON body; and on either side of @middy/http-error-handler, the problem
 * document going in and the problem+json result in the event kind's shape coming out.
 */
import type middy from "@middy/core";
import { UnauthorizedError } from "../api/errors.ts";
import { parseJsonBody } from "./body.ts";
import { eventShape, toApiRequest, type ApiEvent, type PathTemplate } from "./events.ts";
import { exposedError, PROBLEM_JSON } from "./problem.ts";
import { shapeResult, type ApiResult, type HttpAnswer } from "./results.ts";
import { servicesFromEnvironment, type HandlerContext } from "./services.ts";

type Step = middy.MiddlewareObj<ApiEvent, ApiResult, Error, HandlerContext>;

/**
 * The event, translated once, as `context.apiRequest`: header names lower-cased and v1/ALB multi-value
 * maps merged (what @middy/http-header-normalizer would do, for every event kind); a repeated query
 * parameter is a 400 here.
 */
export const normaliseEvent = (route: PathTemplate | undefined): Step => ({
  before: ({ event, context }) => {
    context.apiRequest = toApiRequest(event, route);
  },
});

/** The emulator passes services in the context; a deployed function builds them once, on its first request. */
export const provideServices: Step = {
  before: async ({ context }) => {
    context.services ??= await servicesFromEnvironment();
  },
};

/** A 401 unless the Authorization header carries a configured token. */
export const requireToken: Step = {
  before: ({ context }) => {
    if (!context.services!.tokens.accepts(context.apiRequest!.headers.authorization)) throw new UnauthorizedError();
  },
};

/** The body text replaced by its JSON. */
export const parseBody: Step = {
  before: ({ context }) => {
    const apiRequest = context.apiRequest!;
    apiRequest.body = parseJsonBody(apiRequest.body, apiRequest.headers["content-encoding"]);
  },
};

/**
 * The first step on an error: what http-error-handler reads. An error meant for the client becomes one
 * whose message is its problem document; anything else (logged) one without a status, so that the
 * handler answers with its fallback, a bare 500.
 */
export const problemError: Step = {
  onError: (request) => {
    const exposed = exposedError(request.error, request.context.services?.log ?? console.error);
    request.error = (exposed ?? { cause: request.error }) as Error;
  },
};

/** The last step on an error: http-error-handler's answer as problem+json, in the event kind's result shape. */
export const problemResponse: Step = {
  onError: (request) => {
    if (request.response === undefined) return;
    const { statusCode, headers, body } = request.response as HttpAnswer;
    request.response = shapeResult({ statusCode, headers: { ...headers, "Content-Type": PROBLEM_JSON }, body }, eventShape(request.event));
  },
};
