/**
 * The emulator's HTTP front: an Express app that mounts the route table through the event adapter,
 * answers 404 and 405 for what the table does not have, and caps bodies at 1 MiB.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import { routes, type Route } from "../handlers/routes.ts";
import { BadRequestError, HttpError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../lib/api/errors.ts";
import { MAX_BODY_BYTES } from "../lib/http/body.ts";
import { problemResult } from "../lib/http/problem.ts";
import type { HandlerContext, Services } from "../lib/http/services.ts";
import { expressRequestToEvent, resultToExpressResponse } from "./adapter.ts";
import { logStream } from "./logStream.ts";

/** `/pipelines/{id}` -> `/pipelines/:id` */
const expressPath = (path: string): string => path.replace(/\{(\w+)\}/g, ":$1");

/** A handler as a function takes it: the route table's own, or a built bundle's `handler`. */
export type InvokeHandler = (event: APIGatewayProxyEventV2, context: HandlerContext) => Promise<APIGatewayProxyResultV2>;

export interface AppOptions {
  /** A stage prefix (`/prod`) under which every route is served, as API Gateway serves a named stage. */
  basePath?: string;
  /**
   * A prefix that a proxy in front already stripped (serverless-http's `basePath`): routes are served
   * at the root, and events get it back in `rawPath`, so links the handlers build still work.
   */
  strippedPrefix?: string;
  /**
   * The handler of each route; default: the route table's. Handlers given here (built bundles) get no
   * services in their context: like deployed functions, they build their own from the environment.
   */
  handlerFor?: (route: Route) => InvokeHandler;
  /** How often an idle log stream gets a comment line. Default 15 s. */
  heartbeatMs?: number;
}

function lambdaContext(route: Route, services: Services | undefined, requestId: string): HandlerContext {
  const context: Partial<Context> & { services?: Services } = {
    functionName: route.name,
    functionVersion: "$LATEST",
    awsRequestId: requestId,
    callbackWaitsForEmptyEventLoop: false,
  };
  if (services) context.services = services;
  return context as HandlerContext;
}

function invoke(route: Route, handler: InvokeHandler, services: Services | undefined, stage: string, strippedPrefix = ""): RequestHandler {
  const routeKey = `${route.method} ${route.path}`;
  return async (req, res, next) => {
    try {
      const event = expressRequestToEvent(req, routeKey, stage);
      if (strippedPrefix) event.rawPath = event.requestContext.http.path = strippedPrefix + event.rawPath;
      const result = await handler(event, lambdaContext(route, services, event.requestContext.requestId));
      resultToExpressResponse(result, res);
    } catch (error) {
      next(error);
    }
  };
}

function sendProblem(error: unknown, res: express.Response, services: Services): void {
  resultToExpressResponse(problemResult(error, services.log), res);
}

export function createApp(services: Services, opts: AppOptions = {}): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // `/PIPELINES` is not `/pipelines`, as API Gateway routes.
  app.set("case sensitive routing", true);
  const stage = opts.basePath ? opts.basePath.slice(1) : "$default";
  // Routes go on the app itself, under the base path: a router mounted with app.use() costs a path
  // trim and a second dispatch per request (a quarter of the router's time in a profile under load).
  const prefix = opts.basePath ?? "";
  const at = (path: string) => prefix + expressPath(path);
  // Bodies are read raw, whatever their Content-Type (the handlers parse them), and only on routes
  // that take one, so GETs skip the body parser. Compressed ones are refused (415), as the handlers do.
  const body = express.raw({ type: () => true, limit: MAX_BODY_BYTES, inflate: false });

  // One layer per path, its methods dispatched within it and the rest answered 405: the router tries
  // the layers in turn, so nine routes as nine layers (and six 405 layers) made the fourth route's
  // request walk past three others.
  app.get(at("/runs/{run_id}/logs"), logStream(services, opts.heartbeatMs));
  const byPath = new Map<string, Route[]>();
  for (const route of routes) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
  for (const [path, pathRoutes] of byPath) {
    const layer = app.route(at(path));
    for (const route of pathRoutes) {
      const handler = opts.handlerFor
        ? invoke(route, opts.handlerFor(route), undefined, stage)
        : invoke(route, route.handler, services, stage, opts.strippedPrefix);
      const mount = layer[route.method.toLowerCase() as "get" | "post" | "put" | "delete"].bind(layer);
      if (route.method === "POST" || route.method === "PUT") mount(body, handler);
      else mount(handler);
    }
    const methods = pathRoutes.map((r) => r.method);
    const allow = methods.includes("GET") ? [...methods, "HEAD"] : methods;
    layer.all((req, res) => sendProblem(new MethodNotAllowedError(req.method, allow), res, services));
  }
  app.use((req, res) => sendProblem(new NotFoundError(`no route for ${req.method} ${req.path}`), res, services));

  const onError: ErrorRequestHandler = (error, req, res, _next) => sendProblem(fromExpress(error, req), res, services);
  app.use(onError);
  return app;
}

/** body-parser's and the router's errors (a 4xx status, their own wording) as the API words them. */
function fromExpress(error: unknown, req: express.Request): unknown {
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status !== "number" || status < 400 || status >= 500) return error;
  if (status === 413) return new PayloadTooLargeError(MAX_BODY_BYTES);
  if (status === 415) return new UnsupportedMediaTypeError((req.headers["content-encoding"] ?? "").trim().toLowerCase());
  if (error instanceof URIError) return new BadRequestError("request path is not valid percent-encoding");
  return new HttpError(status, "request could not be read");
}
