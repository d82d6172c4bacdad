/**
 * Connections to PostgreSQL: pool and client settings (an optional schema set as search_path on
 * every connection), and the line between "the database is unreachable" (503, retry later) and every
 * other error (a bug or bad data, passed on unchanged).
 */
import pg from "pg";
import { ConfigError, ServiceUnavailableError } from "../errors.ts";

export interface ConnectionOptions {
  /** Schema for every table (created if missing); default: the server's search_path (public). */
  schema?: string | undefined;
  /** How long to wait for a new connection before reporting the database unavailable. Default 5000. */
  connectTimeoutMs?: number | undefined;
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

/** Messages node-postgres uses for connection failures that carry no code. */
const POOL_MESSAGES = [
  "timeout exceeded when trying to connect",
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

/** A connection failure as ServiceUnavailableError (503); anything else unchanged. */
export function asUnavailable(error: unknown): unknown {
  return isConnectionError(error) ? new ServiceUnavailableError("database unavailable", { cause: error }) : error;
}

/** `value`, when it is a finite number above 0 (a 0-ms interval would be a busy loop). */
export function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${name} must be a number above 0, got ${value}`);
  return value;
}
