/**
 * Time, injected into the stores, the worker pool and the stage runners so that tests and benchmarks
 * run deterministically and without real sleeps.
 */
import { setTimeout as delay } from "node:timers/promises";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms`; rejects with the signal's reason when aborted first. `ms <= 0` resolves on
   * the next microtask, so that a 0-ms stage costs no timer tick.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fire` after `ms` unless the function returned is called first: a time limit that is nearly
   * always cancelled, for one timer rather than a sleep's AbortController and rejected promise.
   */
  timer(ms: number, fire: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return delay(ms, undefined, { signal }).catch(() => Promise.reject(signal?.reason));
  },
  timer: (ms, fire) => {
    const timeout = setTimeout(fire, ms);
    return () => clearTimeout(timeout);
  },
};

/** ISO 8601 UTC, the wire format of every timestamp. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Milliseconds to wait after `failures` failures in a row: 50 ms doubling, at most 5 s. */
export const backoffMs = (failures: number): number => Math.min(5000, 50 * 2 ** failures);
