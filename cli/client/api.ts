/**
 * A small typed HTTP client for the Stagerunner API, one method per endpoint, on Node's global fetch.
 * Responses are checked against the wire schemas, so a wrong --url (a web page, another service)
 * gives one clear error instead of a crash somewhere in the formatting.
 */
import type * as z from "zod/mini";
import { LogsPage, Pipeline, Problem, Run, type RunEnv, type RunStatus } from "../../lib/api/schemas.ts";
import type { Page } from "../../lib/store/store.ts";
import { ApiError, ConnectionError, fetchFailure } from "./errors.ts";

export { ApiError, ConnectionError };

export type { Page };

export interface ListQuery {
  limit?: number;
  cursor?: string;
}

export interface RunsQuery extends ListQuery {
  pipeline_id?: string;
  status?: RunStatus;
}

export interface LogsQuery {
  /** The last line's `seq` already seen: 0 for the first line. */
  after: number;
  /** Up to 25000: the server answers once a line after `after` exists or the run has finished. */
  wait_ms?: number;
}

export interface ApiOptions {
  token?: string;
  /** Per-request timeout; a stuck server should not hang the CLI forever. */
  timeoutMs?: number;
}

interface Call {
  method?: string;
  path: string;
  query?: object;
  body?: unknown;
  signal?: AbortSignal;
  /** Overrides the client's timeout (a long-poll takes its wait time). */
  timeoutMs?: number;
}

/** Reads the cursor out of `Link: <...?cursor=...>; rel="next"`. */
export function nextCursor(link: string | null): string | undefined {
  const match = link && /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
  if (!match) return undefined;
  return new URL(match[1]!, "http://link.invalid").searchParams.get("cursor") ?? undefined;
}

export class StagerunnerApi {
  readonly baseUrl: URL;
  /** The base URL's path without its trailing slash: "" or "/prod". */
  private readonly basePath: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  /** Throws TypeError for a URL that is not http(s). */
  constructor(baseUrl: string, opts: ApiOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`not an http(s) URL: ${baseUrl}`);
    // A base path (https://host/prod) is kept: requests go to /prod/pipelines, not /pipelines.
    this.basePath = url.pathname.replace(/\/+$/, "");
    url.search = "";
    url.hash = "";
    this.baseUrl = url;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  // Bodies are `unknown`: the CLI sends what the user wrote and leaves validation to the server.
  async createPipeline(input: unknown, signal?: AbortSignal): Promise<Pipeline> {
    return parse(Pipeline, await this.call({ method: "POST", path: "/pipelines", body: input, signal }));
  }
  async listPipelines(query: ListQuery = {}, signal?: AbortSignal): Promise<Page<Pipeline>> {
    return page(Pipeline, await this.send({ path: "/pipelines", query, signal }));
  }
  async getPipeline(id: string, signal?: AbortSignal): Promise<Pipeline> {
    return parse(Pipeline, await this.call({ path: `/pipelines/${encodeURIComponent(id)}`, signal }));
  }
  async updatePipeline(id: string, input: unknown, signal?: AbortSignal): Promise<Pipeline> {
    return parse(Pipeline, await this.call({ method: "PUT", path: `/pipelines/${encodeURIComponent(id)}`, body: input, signal }));
  }
  async deletePipeline(id: string, signal?: AbortSignal): Promise<void> {
    await this.send({ method: "DELETE", path: `/pipelines/${encodeURIComponent(id)}`, signal });
  }
  /** Without `gitRef` the server's default (main) applies; `env` is the run's parameters. */
  async triggerPipeline(id: string, gitRef?: string, env?: RunEnv, signal?: AbortSignal): Promise<Run> {
    const body = { ...(gitRef === undefined ? {} : { git_ref: gitRef }), ...(env === undefined ? {} : { env }) };
    return parse(Run, await this.call({ method: "POST", path: `/pipelines/${encodeURIComponent(id)}/trigger`, body, signal }));
  }
  async listRuns(query: RunsQuery = {}, signal?: AbortSignal): Promise<Page<Run>> {
    return page(Run, await this.send({ path: "/runs", query, signal }));
  }
  async getRun(id: string, signal?: AbortSignal): Promise<Run> {
    return parse(Run, await this.call({ path: `/runs/${encodeURIComponent(id)}`, signal }));
  }
  /** Without `reason` the server's default ("by request") applies. */
  async cancelRun(id: string, reason?: string, signal?: AbortSignal): Promise<Run> {
    const body = reason === undefined ? {} : { reason };
    return parse(Run, await this.call({ method: "POST", path: `/runs/${encodeURIComponent(id)}/cancel`, body, signal }));
  }
  async rerunRun(id: string, signal?: AbortSignal): Promise<Run> {
    return parse(Run, await this.call({ method: "POST", path: `/runs/${encodeURIComponent(id)}/rerun`, signal }));
  }
  async getRunLogs(id: string, query: LogsQuery, signal?: AbortSignal): Promise<LogsPage> {
    // The request may take the whole wait: the timeout counts from after it.
    const timeoutMs = this.timeoutMs + (query.wait_ms ?? 0);
    return parse(LogsPage, await this.call({ path: `/runs/${encodeURIComponent(id)}/logs`, query, signal, timeoutMs }));
  }

  /** Where a request for `path` goes: the base URL's path, then `path`. */
  urlFor(path: string, query: object = {}): URL {
    const url = new URL(this.baseUrl.href);
    url.pathname = `${this.basePath}${path}`;
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  private async call(call: Call): Promise<unknown> {
    return (await this.send(call)).body;
  }

  private async send({ method = "GET", path, query, body, signal, timeoutMs = this.timeoutMs }: Call): Promise<{ body: unknown; headers: Headers }> {
    const url = this.urlFor(path, query);
    const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new ConnectionError(`cannot reach Stagerunner at ${this.baseUrl.href}: ${fetchFailure(error)}`, { cause: error });
    }
    const json = text === "" ? undefined : tryJson(text);
    if (!response.ok) {
      const problem = Problem.safeParse(json);
      throw new ApiError(
        problem.success ? problem.data : { type: "about:blank", title: response.statusText || "Error", status: response.status, detail: `${method} ${url.pathname}` },
      );
    }
    if (text !== "" && json === undefined)
      throw new ConnectionError(`${method} ${url.href} answered ${response.status} with a body that is not JSON: is ${this.baseUrl.href} a Stagerunner API?`);
    return { body: json, headers: response.headers };
  }
}

function parse<T>(schema: z.ZodMiniType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ConnectionError(`unexpected response from the server: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
}

function page<T>(item: z.ZodMiniType<T>, { body, headers }: { body: unknown; headers: Headers }): Page<T> {
  if (!Array.isArray(body)) throw new ConnectionError("unexpected response from the server: expected a JSON array");
  const next = nextCursor(headers.get("link"));
  return { items: body.map((b) => parse(item, b)), ...(next ? { next } : {}) };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
