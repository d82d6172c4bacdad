/**
 * Retrying while following a run: a request that reaches no API (connection error, 5xx) is tried again
 * with back-off for up to `retryMs`, so a restart of the server or a short outage does not end a
 * `--wait`. The time counts from the outage's first failure, not from the last answer: a long-poll that
 * hangs until its timeout (a server gone without closing the connection) still gets its retries.
 * A 4xx is the API refusing, and is never retried.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ApiError, ConnectionError, fetchFailure, isUnreachable } from "./errors.ts";

/** The first wait, doubled after each failure up to the last. */
export const BACKOFF_MS = { first: 500, max: 5000 } as const;

export interface ReconnectOptions {
  /** How long to go on trying after a first failure; 0 never retries. */
  retryMs: number;
  /** Told once per outage that the connection was lost (a line for stderr). */
  notify: (line: string) => void;
  /** Aborting stops a wait at once. */
  signal?: AbortSignal;
  now?: () => number;
  wait?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
}

export class Reconnect {
  /** When the current outage's first failure came; undefined while requests are answered. */
  private outageSince: number | undefined;
  private readonly now: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<unknown>;

  constructor(private readonly opts: ReconnectOptions) {
    this.now = opts.now ?? Date.now;
    this.wait = opts.wait ?? ((ms, signal) => sleep(ms, undefined, { signal }));
  }

  /** Runs `request` until it is answered; throws a 4xx at once, and the last failure when time is up. */
  async call<T>(request: () => Promise<T>): Promise<T> {
    let backoff: number = BACKOFF_MS.first;
    for (;;) {
      try {
        const result = await request();
        this.outageSince = undefined;
        return result;
      } catch (error) {
        if (!isUnreachable(error) || this.opts.signal?.aborted || this.opts.retryMs <= 0) throw error;
        if (this.outageSince === undefined) {
          this.outageSince = this.now();
          this.opts.notify(`connection lost (${reason(error)}); retrying for up to ${seconds(this.opts.retryMs)} s`);
        }
        const left = this.outageSince + this.opts.retryMs - this.now();
        if (left <= 0) throw new ConnectionError(`${reason(error)}; gave up after ${seconds(this.opts.retryMs)} s of retrying`, { cause: error });
        try {
          await this.wait(Math.min(backoff, left), this.opts.signal);
        } catch (aborted) {
          // timers/promises rejects with its own AbortError; the caller wants to know why it was aborted.
          throw this.opts.signal?.aborted ? this.opts.signal.reason : aborted;
        }
        backoff = Math.min(backoff * 2, BACKOFF_MS.max);
      }
    }
  }
}

function reason(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof ConnectionError ? error.message : fetchFailure(error);
}

const seconds = (ms: number): string => String(Math.round(ms / 100) / 10);
