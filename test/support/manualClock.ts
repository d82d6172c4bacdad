/**
 * A Clock whose time moves only when the test says so, and deterministic UUID-shaped ids, so that
 * store and worker-pool tests run in microseconds and give the same timestamps every time.
 */
import type { Clock } from "../../lib/clock.ts";
import type { IdGenerator } from "../../lib/ids.ts";

interface Sleeper {
  deadline: number;
  /** Creation order: sleepers with the same deadline wake in the order they went to sleep. */
  order: number;
  resolve: () => void;
  detach: () => void;
}

/** 2024-01-01T00:00:00.000Z: a round start so that expected timestamps read easily. */
export const EPOCH = Date.UTC(2024, 0, 1);

/**
 * Lets every pending promise continuation run. setImmediate fires after the microtask queue has
 * drained, so one turn settles any chain of awaits that does not wait on a timer or I/O; three turns
 * also let work the code itself defers with setImmediate (lib/stageLog.ts batches log writes so) finish.
 */
export async function settle(): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];
  private order = 0;

  constructor(start = EPOCH) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Sets the time without waking anyone (for timestamps in store tests). Time never goes back. */
  set(ms: number): void {
    if (ms < this.current) throw new RangeError(`ManualClock cannot go back from ${this.current} to ${ms}`);
    this.current = ms;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The Clock contract: `ms <= 0` resolves on the next microtask, without a timer.
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      const sleeper: Sleeper = {
        deadline: this.current + ms,
        order: this.order++,
        resolve,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** A sleep of `ms` that calls `fire`, cancelled by aborting it. */
  timer(ms: number, fire: () => void): () => void {
    const cancel = new AbortController();
    // Checked again when it is due: a sleep of 0 resolves without looking at its signal.
    this.sleep(ms, cancel.signal).then(() => cancel.signal.aborted || fire(), () => {});
    return () => cancel.abort();
  }

  /** Number of sleeps waiting for time to pass. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** The earliest deadline of a pending sleep, or undefined when nobody sleeps. */
  get nextDeadline(): number | undefined {
    return this.next()?.deadline;
  }

  /**
   * Moves time forward by `ms`, waking each sleep whose deadline is reached, earliest first, and
   * letting the code it resumes run (and perhaps sleep again) before waking the next one. Resolves
   * once everything woken has settled.
   */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError("ManualClock cannot go back");
    const target = this.current + ms;
    await settle();
    for (let sleeper = this.next(); sleeper && sleeper.deadline <= target; sleeper = this.next()) {
      this.sleepers = this.sleepers.filter((s) => s !== sleeper);
      this.current = sleeper.deadline;
      sleeper.detach();
      sleeper.resolve();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Advances to the next deadline, if any; false when nobody sleeps. */
  async advanceToNext(): Promise<boolean> {
    const deadline = this.nextDeadline;
    if (deadline === undefined) return false;
    await this.advance(deadline - this.current);
    return true;
  }

  private next(): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.sleepers)
      if (!best || s.deadline < best.deadline || (s.deadline === best.deadline && s.order < best.order)) best = s;
    return best;
  }
}

/** The n-th deterministic id (n from 1): a valid version-4, variant-1 UUID, as the wire schema requires. */
export const uuidFor = (n: number): string => `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`;

/** An id generator counting up from 1: `00000000-0000-4000-8000-000000000001`, `...002`, ... */
export function sequentialIds(): IdGenerator {
  let n = 0;
  return () => uuidFor(++n);
}

/** A UUID no generator here produces, for "unknown id" cases. */
export const UNKNOWN_ID = "ffffffff-ffff-4fff-bfff-ffffffffffff";
