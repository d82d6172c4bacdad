/**
 * Every route from one function (dist/app.mjs), for Lambda Function URLs, ALB targets and catch-all
 * API Gateway routes (`ANY /{proxy+}`): the emulator's Express app behind serverless-http, which reads
 * each event kind and answers in its shape. Services come from the environment like any deployed
 * function's; STAGERUNNER_BASE_PATH names an API Gateway stage prefix to strip (`/prod`).
 */
import { STATUS_CODES } from "node:http";
import type { Context } from "aws-lambda";
import serverless from "serverless-http";
import { problemResult } from "../lib/http/problem.ts";
import { servicesFromEnvironment } from "../lib/http/services.ts";
import { createApp } from "./app.ts";

let app: serverless.Handler | undefined;

export const handler = async (event: unknown, context: Context): Promise<unknown> => {
  try {
    if (!app) {
      const basePath = process.env.STAGERUNNER_BASE_PATH || undefined;
      app = serverless(createApp(await servicesFromEnvironment(), basePath ? { strippedPrefix: basePath } : {}), basePath ? { basePath } : {});
    }
  } catch (error) {
    // Missing settings: a 500 problem naming them, as every per-route function answers.
    return problemResult(error);
  }
  const result = (await app(event as object, context)) as { statusCode?: number; statusDescription?: string };
  // serverless-http 4 leaves out the status line an ALB target is to answer with.
  if ((event as { requestContext?: { elb?: unknown } }).requestContext?.elb && result.statusCode && !result.statusDescription)
    result.statusDescription = `${result.statusCode} ${STATUS_CODES[result.statusCode] ?? "Unknown"}`;
  return result;
};
