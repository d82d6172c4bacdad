/**
 * Connections to PostgreSQL: pool and client settings (an optional schema set as search_path on
 * every connection), and the line between "the database is unreachable" (503, retry later) and every
 * other error (a bug or bad data, passed on unchanged).
 */
import pg from "pg";
import { ConfigError, ServiceUnavailableError } from "../../api/errors.ts";

export interface ConnectionOptions {
  /** Schema for every table (created if missing); default: the server's search_path (public). */
  schema?: string | undefined;
  /** How long to wait for a new connection before reporting the database unavailable. Default 5000. */
  connectTimeoutMs?: number | undefined;
  /**
   * How long a call may wait for one of the pool's connections when all are busy before it is answered
   * 503 "database busy". Default 20000: a burst of requests larger than the pool queues for its
   * connections instead of being turned away while the database is well; a separate, longer limit than
   * connectTimeoutMs, which only bounds establishing a connection.
   */
  poolWaitMs?: number | undefined;
  /**
   * How long one query may take before it fails (and the API answers 503). Default 10000: every query
   * here takes milliseconds, so a query this slow means a database that stopped answering without
   * closing its connections (a frozen host, a partition), which would otherwise hang requests and
   * shutdown for as long as the TCP connection lives.
   */
  queryTimeoutMs?: number | undefined;
}

/** Lower-case identifiers only, short enough to suffix channel names within PostgreSQL's 63 bytes. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

/** Checks a connection string and schema name before anything connects; ConfigError otherwise. */
export function checkConnection(url: string, opts: ConnectionOptions): void {
  if (!/^postgres(ql)?:\/\//.test(url) || !URL.canParse(url))
    throw new ConfigError("the database must be given as a postgres:// connection URL");
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema))
    throw new ConfigError(`schema "${opts.schema}" must be a lower-case identifier of at most 40 characters`);
}

/** Settings shared by the pool and the LISTEN client. */
export function clientConfig(url: string, opts: ConnectionOptions, applicationName = "stagerunner"): pg.ClientConfig {
  return {
    connectionString: url,
    // Names the connections in pg_stat_activity; a connection string's application_name wins.
    application_name: applicationName,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    query_timeout: opts.queryTimeoutMs ?? 10_000,
    // Detects a peer that vanished without closing the socket (a host that died), which a
    // connection idle in LISTEN would otherwise never notice.
    keepAlive: true,
    // A startup parameter, not a SET after connecting: no extra round trip per connection.
    ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
  };
}

/**
 * Settings for a pool of `max` connections: its wait for a free connection is poolWaitMs, while each
 * connection's own connect keeps connectTimeoutMs (node-postgres uses one setting for both unless the
 * client is given its own).
 */
export function poolConfig(url: string, opts: ConnectionOptions, max: number): pg.PoolConfig {
  const client = clientConfig(url, opts);
  const connectTimeout = client.connectionTimeoutMillis;
  class PoolClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeout });
    }
  }
  return { ...client, max, connectionTimeoutMillis: positive("poolWaitMs", opts.poolWaitMs ?? 20_000), Client: PoolClient };
}

/** NOTIFY channels, suffixed by the schema so that stores in different schemas do not hear each other. */
export function channelName(base: string, schema: string | undefined): string {
  return schema === undefined ? base : `${base}:${schema}`;
}

/** A double-quoted SQL identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);

/**
 * SQLSTATEs that mean "this server cannot serve you now", not "your statement is wrong": shutdown and
 * start-up, too many connections, and a login refused or to a missing database (a rotated password,
 * a dropped database: at start-up these name the cause in one line; later the API answers 503).
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "53400", "28000", "28P01", "3D000"]);

/** node-postgres's error when every connection of the pool stayed busy for the pool's wait limit. */
const POOL_WAIT_MESSAGE = "timeout exceeded when trying to connect";

/** Messages node-postgres uses for connection failures that carry no code. */
const POOL_MESSAGES = [
  POOL_WAIT_MESSAGE,
  "Connection terminated",
  "Client has encountered a connection error",
  "Connection terminated due to connection timeout",
  "Query read timeout",
];

/** True when `error` says the database cannot be reached or dropped the connection. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith("08"))) return true;
  if (POOL_MESSAGES.some((m) => error.message.startsWith(m))) return true;
  // AggregateError from net.connect when every address of a host name refused (Node 20 happy eyeballs).
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  return false;
}

/**
 * A connection failure as ServiceUnavailableError (503); anything else unchanged. A call that waited
 * out the pool (every connection busy: overload, not an outage) says so, and may be retried sooner.
 */
export function asUnavailable(error: unknown): unknown {
  if (!isConnectionError(error)) return error;
  if (error instanceof Error && error.message === POOL_WAIT_MESSAGE)
    return new ServiceUnavailableError("database busy: no connection came free in time", { cause: error, retryAfterSeconds: 1 });
  return new ServiceUnavailableError("database unavailable", { cause: error });
}

/** `value`, when it is a finite number above 0 (a 0-ms interval would be a busy loop). */
export function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${name} must be a number above 0, got ${value}`);
  return value;
}
