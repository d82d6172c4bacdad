/**
 * The emulator's HTTP front: an Express app that mounts the route table through the event adapter,
 * answers 404 and 405 for what the table does not have, and caps bodies at 1 MiB.
 */
import type { Context } from "aws-lambda";
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import { routes, type Route } from "../handlers/routes.ts";
import { HttpError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError } from "../lib/errors.ts";
import { MAX_BODY_BYTES } from "../lib/http/endpoint.ts";
import { problemResult } from "../lib/http/problem.ts";
import type { HandlerContext, Services } from "../lib/http/services.ts";
import { expressRequestToEvent, resultToExpressResponse } from "./adapter.ts";

/** `/pipelines/{id}` -> `/pipelines/:id` */
const expressPath = (path: string): string => path.replace(/\{(\w+)\}/g, ":$1");

function lambdaContext(route: Route, services: Services): HandlerContext {
  const context: Partial<Context> & { services: Services } = {
    services,
    functionName: route.name,
    functionVersion: "$LATEST",
    awsRequestId: "",
    callbackWaitsForEmptyEventLoop: false,
  };
  return context as HandlerContext;
}

function invoke(route: Route, services: Services): RequestHandler {
  const routeKey = `${route.method} ${route.path}`;
  return async (req, res, next) => {
    try {
      const result = await route.handler(expressRequestToEvent(req, routeKey), lambdaContext(route, services));
      resultToExpressResponse(result, res);
    } catch (error) {
      next(error);
    }
  };
}

function sendProblem(error: unknown, res: express.Response, services: Services): void {
  resultToExpressResponse(problemResult(error, services.log), res);
}

export function createApp(services: Services): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // Bodies are read raw, whatever their Content-Type (the handlers parse them), and only on routes
  // that take one, so GETs skip the body parser.
  const body = express.raw({ type: () => true, limit: MAX_BODY_BYTES });

  const methodsByPath = new Map<string, string[]>();
  for (const route of routes) {
    const mount = app[route.method.toLowerCase() as "get" | "post" | "put" | "delete"].bind(app);
    if (route.method === "POST" || route.method === "PUT") mount(expressPath(route.path), body, invoke(route, services));
    else mount(expressPath(route.path), invoke(route, services));
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
  }
  for (const [path, methods] of methodsByPath) {
    const allow = methods.includes("GET") ? [...methods, "HEAD"] : methods;
    app.all(expressPath(path), (req, res) => sendProblem(new MethodNotAllowedError(req.method, allow), res, services));
  }
  app.use((req, res) => sendProblem(new NotFoundError(`no route for ${req.method} ${req.path}`), res, services));

  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    // body-parser and the router throw errors carrying a 4xx status (413, 400 for a bad URI, ...).
    const status = typeof error?.status === "number" ? error.status : 500;
    if (status === 413) sendProblem(new PayloadTooLargeError(MAX_BODY_BYTES), res, services);
    else if (status >= 400 && status < 500) sendProblem(new HttpError(status, String(error.message || "bad request")), res, services);
    else sendProblem(error, res, services);
  };
  app.use(onError);
  return app;
}
