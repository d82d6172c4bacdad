/**
 * Time, injected into the store, the worker pool and the stage runners so that tests
 * and benchmarks run deterministically and without real sleeps.
 */
import { PreciseSleep } from "./preciseSleep.ts";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms`; rejects with the signal's reason when aborted first.
   * `ms <= 0` resolves on the next microtask: a 0-ms stage must not cost a timer tick (~1 ms).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const sleeper = new PreciseSleep();

/** The real clock; its sleeps end on time (see lib/preciseSleep.ts). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleeper.sleep(ms, signal),
};

let lastMs = NaN;
let lastIso = "";

/**
 * ISO 8601 UTC, the wire format of every timestamp. The last result is reused: a busy engine stamps
 * many transitions within one millisecond, and toISOString was 15% of its profile.
 */
export function iso(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
