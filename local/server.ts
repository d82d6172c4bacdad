/**
 * The emulator process: in-memory store, worker pool and HTTP server, started and stopped together.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateToken, tokenChecker } from "../lib/http/auth.ts";
import { systemClock, type Clock } from "../lib/clock.ts";
import type { ServerConfig } from "../lib/config/serverSettings.ts";
import { ConfigError } from "../lib/api/errors.ts";
import type { Services } from "../lib/http/services.ts";
import { openStore } from "../lib/store/openStore.ts";
import type { Run } from "../lib/api/schemas.ts";
import type { StageRunner } from "../lib/worker/stageRunner.ts";
import { stageRunnerFor } from "../lib/worker/runners.ts";
import type { Store } from "../lib/store/store.ts";
import { WorkerPool, type StopReport } from "../lib/worker/pool.ts";
import { createApp } from "./app.ts";
import { loadBundles } from "./bundles.ts";

export interface ServerOptions {
  clock?: Clock;
  store?: Store;
  runner?: StageRunner;
  /** Progress and banner lines; timestamps are added by the caller if wanted. */
  log?: (line: string) => void;
  /** How often an idle log stream gets a comment line (tests shorten it). */
  heartbeatMs?: number;
  /** Default HTTP_TIMEOUTS (tests shorten them). */
  timeouts?: HttpTimeouts;
}

/** How long a client may take to send a request, so that a half-sent one cannot hold a socket for minutes. */
export interface HttpTimeouts {
  /** Until the headers are in (Node's default is 60 s). */
  headersMs: number;
  /** Until the whole request is in (Node's default is 300 s). */
  requestMs: number;
  /** How often Node looks for requests past either (its default, 30 s, would stretch both). */
  checkEveryMs: number;
}

export const HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, checkEveryMs: 1_000 };

/** The HTTP server for `app`, answering 408 and closing the connection when a request is too slow. */
export function httpServer(app: RequestListener, timeouts: HttpTimeouts = HTTP_TIMEOUTS): Server {
  const { headersMs: headersTimeout, requestMs: requestTimeout, checkEveryMs: connectionsCheckingInterval } = timeouts;
  return createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval }, app);
}

export interface RunningServer {
  url: string;
  /** The accepted tokens (the generated one when none was configured). */
  tokens: string[];
  generatedToken: boolean;
  store: Store;
  pool: WorkerPool;
  /** Stops accepting requests, lets runs finish within the grace period, cancels what is left. */
  close(graceMs?: number): Promise<ShutdownReport>;
}

export interface ShutdownReport extends StopReport {
  cancelledQueued: Run[];
}

export async function startServer(config: ServerConfig, opts: ServerOptions = {}): Promise<RunningServer> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? (() => {});
  // The runner first: a bad shell setting stops start-up before anything is opened.
  const runner = opts.runner ?? stageRunnerFor(config, clock);
  const store = opts.store ?? (await openStore(config, clock, log));
  const generatedToken = config.token.length === 0;
  const tokens = generatedToken ? [generateToken()] : config.token;
  const services: Services = { store, tokens: tokenChecker(tokens), log };
  const pool = new WorkerPool({ store, runner, size: config.workers, clock, log, stageTimeoutS: config.stageTimeoutS });

  const app = createApp(services, {
    basePath: config.basePath,
    ...(config.from ? { handlerFor: await loadBundles(config, tokens) } : {}),
    ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
  });
  const server = httpServer(app, opts.timeouts).listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new ConfigError(`cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`)),
    );
  });
  pool.start();
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`;

  let closing: Promise<ShutdownReport> | undefined;
  const close = (graceMs = config.shutdownGraceMs) =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (pool.busy > 0) log(`shutting down: waiting up to ${graceMs} ms for ${pool.busy} running run(s)`);
      const report = await pool.stop(graceMs);
      const cancelledQueued = store.durable ? [] : await store.cancelQueued("the server shut down before the run started");
      if (cancelledQueued.length) log(`cancelled ${cancelledQueued.length} queued run(s): ${cancelledQueued.map((r) => r.id).join(", ")}`);
      server.closeAllConnections();
      await stopped;
      await store.close();
      return { ...report, cancelledQueued };
    })());

  return { url, tokens, generatedToken, store, pool, close };
}
