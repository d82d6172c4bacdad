/**
 * Time and identity, injected into the store, the worker pool and the stage runners so that tests
 * and benchmarks run deterministically and without real sleeps.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setImmediate as immediate, setTimeout as delay } from "node:timers/promises";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms`; rejects with the signal's reason when aborted first.
   * `ms <= 0` resolves on the next microtask: a 0-ms stage must not cost a timer tick (~1 ms).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * setTimeout alone overshoots: 5-ms sleeps took 5.52 ms on average here (p99 9 ms), which would cap a
 * run of three 5-ms stages at 91% of its nominal rate. So the timer is set short and the rest
 * is waited out on setImmediate against the monotonic clock, which yields to I/O on every turn.
 * The timer is set 2 ms short because under load it fires up to ~1.5 ms late (64 busy workers).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    signal?.throwIfAborted();
    if (ms <= 0) return;
    const deadline = performance.now() + ms;
    if (ms > 3) await delay(ms - 2, undefined, signal ? { signal } : undefined);
    // The abort is checked each turn rather than passed to setImmediate, which would add and remove
    // an abort listener per turn (5% of the 64-worker bench's profile).
    while (performance.now() < deadline) {
      signal?.throwIfAborted();
      await immediate();
    }
  },
};

export type IdGenerator = () => string;

export const randomId: IdGenerator = randomUUID;

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
