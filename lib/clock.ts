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

const DAY_MS = 86_400_000;
const MAX_TIME = 8.64e15;
const TWO = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, "0"));
const THREE = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, "0"));
/** The last strings made, by their millisecond modulo the size: a direct-mapped cache. */
const CACHED = 4096;
const cachedMs = new Float64Array(CACHED).fill(NaN);
const cachedIso: string[] = new Array<string>(CACHED).fill("");
let day = NaN;
let dayPrefix = "";

/**
 * ISO 8601 UTC, the wire format of every timestamp, as Date#toISOString writes it. Stores keep times as
 * numbers and write them out when a run is read, up to ten per run, and the same recent runs are read
 * again and again (a page of the newest runs, a run followed until it ends): the last 4096 strings made
 * are kept, by millisecond. toISOString took 0.7 to 1.3 us a call on this machine, so only the date part
 * comes from it, once a day; the time of day is put together from tables (0.2 us).
 */
export function iso(ms: number): string {
  // A fraction, or no time at all (NaN, or beyond Date's ±8.64e15 ms: a RangeError), as Date has it.
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_TIME) return new Date(ms).toISOString();
  const slot = ms & (CACHED - 1);
  if (cachedMs[slot] === ms) return cachedIso[slot]!;
  const today = Math.floor(ms / DAY_MS);
  if (today !== day) {
    dayPrefix = new Date(today * DAY_MS).toISOString().slice(0, -13); // "YYYY-MM-DDT"
    day = today;
  }
  let rest = ms - today * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const text = `${dayPrefix}${TWO[Math.floor(rest / 60)]}:${TWO[rest % 60]}:${TWO[second]}.${THREE[milli]}Z`;
  cachedMs[slot] = ms;
  cachedIso[slot] = text;
  return text;
}
