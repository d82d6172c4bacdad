/**
 * The other side of the event boundary: a reply (or a problem result) in the result shape of the
 * event kind that asked for it.
 */
import { STATUS_CODES } from "node:http";
import type { ALBResult, APIGatewayProxyResult, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { EventShape } from "./events.ts";

/** What an endpoint function answers: a status, a JSON-serialisable body and extra headers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Any result shape a handler returns. */
export type ApiResult = APIGatewayProxyResult | APIGatewayProxyStructuredResultV2 | ALBResult;

/** A serialised answer before it takes an event kind's shape (problemResult's output is one). */
export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
}

const V2: EventShape = { kind: "v2", multiValueHeaders: false };

/** The reply as JSON, in the result shape `shape` asks for (v2 when not given). */
export function toResult(reply: Reply, shape: EventShape = V2): ApiResult {
  if (reply.body === undefined) return shapeResult({ statusCode: reply.status, headers: reply.headers ?? {} }, shape);
  const headers = { "Content-Type": "application/json", ...reply.headers };
  return shapeResult({ statusCode: reply.status, headers, body: JSON.stringify(reply.body) }, shape);
}

/**
 * v2 and Function URLs: Set-Cookie goes to `cookies`. v1: `headers`, plus `multiValueHeaders` when the
 * event had them (API Gateway merges the two without duplicates) and a body always (v1 requires
 * one). ALB: a status description, and either `headers` or `multiValueHeaders`, never both, to match
 * the target group's setting; with it on, ALB reads only `multiValueHeaders`.
 */
export function shapeResult(answer: HttpAnswer, shape: EventShape): ApiResult {
  const { statusCode, headers, body } = answer;
  if (shape.kind === "v2") {
    const cookie = Object.keys(headers).find((name) => name.toLowerCase() === "set-cookie");
    if (cookie === undefined) return { statusCode, headers, ...(body === undefined ? {} : { body }) };
    const { [cookie]: value, ...rest } = headers;
    return { statusCode, headers: rest, cookies: [value!], ...(body === undefined ? {} : { body }) };
  }
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]));
  if (shape.kind === "v1") return { statusCode, headers, ...(shape.multiValueHeaders ? { multiValueHeaders } : {}), body: body ?? "" };
  const statusDescription = `${statusCode} ${STATUS_CODES[statusCode] ?? "Unknown"}`;
  const headerField = shape.multiValueHeaders ? { multiValueHeaders } : { headers };
  return { statusCode, statusDescription, ...headerField, isBase64Encoded: false, body: body ?? "" };
}
