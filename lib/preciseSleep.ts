/**
 * Sleeps that end on time, for every sleeper of the process at once.
 *
 * setTimeout alone overshoots: 5-ms sleeps took 5.52 ms on average here (p99 9 ms), which would cap a
 * run of three 5-ms stages at 91% of its nominal rate. So the timer is set SLACK_MS short and the rest
 * is waited out on setImmediate against the monotonic clock, which yields to I/O on every turn.
 *
 * One scheduler serves all sleepers: one timer for the earliest deadline and one setImmediate turn
 * that ends every sleep due by then. A spin per sleeper (what this replaced) allocated a promise and
 * an Immediate per sleeper per turn; with 64 workers in their stages' last milliseconds that garbage
 * set off a 2-ms scavenge every few milliseconds, which every stage in flight then waited out.
 */
import { performance } from "node:perf_hooks";
import { insertSorted } from "./store/memory/sorted.ts";

/** The timer fires this much before the deadline: under load (64 busy workers) it fires up to ~1.5 ms late. */
const SLACK_MS = 2;

interface Sleeper {
  deadline: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  /** The sleepers on the same signal, if it has one. */
  group: Sleeper[] | undefined;
}

export class PreciseSleep {
  /** Ascending by deadline. */
  private readonly sleepers: Sleeper[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (performance.now() time); Infinity when none is set. */
  private timerAt = Infinity;
  private spinning = false;
  /**
   * The sleepers of each signal, which gets one abort listener for all of them: a run's stages sleep on
   * one signal, and an EventTarget listener added and removed per sleep cost 0.85 us (measured here).
   */
  private readonly bySignal = new WeakMap<AbortSignal, Sleeper[]>();

  /** Resolves after `ms` (at once for ms <= 0); rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { deadline: performance.now() + ms, resolve, reject, group: signal && this.groupOf(signal) };
      sleeper.group?.push(sleeper);
      insertSorted(this.sleepers, sleeper, byDeadline);
      this.schedule();
    });
  }

  /** The sleepers on `signal`: mostly none or one (a run's stages sleep one after the other). */
  private groupOf(signal: AbortSignal): Sleeper[] {
    let group = this.bySignal.get(signal);
    if (!group) {
      const sleepers: Sleeper[] = (group = []);
      this.bySignal.set(signal, group);
      signal.addEventListener(
        "abort",
        () => {
          for (const sleeper of sleepers.splice(0)) {
            this.remove(sleeper);
            sleeper.reject(signal.reason);
          }
        },
        { once: true },
      );
    }
    return group;
  }

  /** Sets the one wake-up the earliest deadline needs: a timer while it is far, else the next turn. */
  private schedule(): void {
    if (this.spinning) return; // the turn under way looks again when it is done
    const first = this.sleepers[0];
    if (!first) return this.clearTimer();
    const wait = first.deadline - performance.now();
    if (wait <= SLACK_MS + 1) {
      this.spinning = true;
      setImmediate(this.turn);
      return;
    }
    const at = first.deadline - SLACK_MS;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(this.fire, wait - SLACK_MS);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.schedule();
  };

  private readonly turn = (): void => {
    this.spinning = false;
    const now = performance.now();
    // Most turns end nothing (the earliest deadline is still ahead): no allocation for those.
    while (this.sleepers.length && this.sleepers[0]!.deadline <= now) {
      const sleeper = this.sleepers.shift()!;
      const at = sleeper.group ? sleeper.group.indexOf(sleeper) : -1;
      if (at >= 0) sleeper.group!.splice(at, 1);
      sleeper.resolve();
    }
    this.schedule();
  };

  private remove(sleeper: Sleeper): void {
    const index = this.sleepers.indexOf(sleeper);
    if (index < 0) return;
    this.sleepers.splice(index, 1);
    // A timer set for a deadline that is gone must not keep the process up until it fires.
    if (index === 0 && !this.spinning) {
      this.clearTimer();
      this.schedule();
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}

const byDeadline = (s: Sleeper): number => s.deadline;
