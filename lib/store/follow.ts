/**
 * Following a run as it goes, on any Store: a watch on the run's changes (its onRunChange), and the
 * run's log and stage changes as a sequence of events, for long-polls and SSE alike.
 */
import type { StageKind } from "../api/order.ts";
import type { LogLine, RunStatus, StageStatus } from "../api/schemas.ts";
import type { Store } from "./store.ts";

/** Lines read a time; a follower reads again at once while a read comes back full. */
export const LOG_PAGE_LINES = 1000;

/**
 * A follower reads again at least this often: a change racing the follower's registration can go
 * untold (PostgreSQL decides whether to NOTIFY a run's followers in the writing statement's snapshot).
 */
const RECHECK_MS = 500;

/**
 * Listens to a run's changes from the moment it is made, so that a change between a read and the wait
 * after it is not missed: call `read()` before each read, then `wait()`.
 */
export class RunWatch {
  private changed = false;
  private wake: (() => void) | undefined;
  private readonly off: () => void;

  constructor(store: Store, runId: string) {
    this.off = store.onRunChange(runId, () => {
      this.changed = true;
      this.wake?.();
    });
  }

  /** Marks the run as read: later changes count. */
  read(): void {
    this.changed = false;
  }

  /** Resolves once the run has changed since read(), after `ms` (at most RECHECK_MS) at the latest, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.changed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, RECHECK_MS));
      signal?.addEventListener("abort", done, { once: true });
      this.wake = done;
    });
  }

  close(): void {
    this.off();
  }
}

export type RunEvent =
  | { event: "line"; line: LogLine }
  | { event: "stage"; stage: StageKind; status: StageStatus }
  | { event: "end"; status: RunStatus };

/**
 * The run's events from line `after` on: every line, each stage's status when first seen and when it
 * changes, and `end` with the run's status once it has finished and every line has been given. Ends
 * early (without `end`) when `signal` aborts or the run disappears.
 */
export async function* runEvents(store: Store, runId: string, after: number, signal: AbortSignal): AsyncGenerator<RunEvent> {
  const seen = new Map<StageKind, StageStatus>();
  const watch = new RunWatch(store, runId);
  try {
    while (!signal.aborted) {
      watch.read();
      const run = await store.getRun(runId);
      if (!run) return;
      for (const stage of run.stages) {
        if (seen.get(stage.name) === stage.status || (stage.status === "pending" && !seen.has(stage.name))) continue;
        seen.set(stage.name, stage.status);
        yield { event: "stage", stage: stage.name, status: stage.status };
      }
      // Read after the run: a run seen finished has written all its lines by then.
      const page = await store.getLogs(runId, after, LOG_PAGE_LINES);
      if (!page) return;
      for (const line of page.lines) yield { event: "line", line };
      after = page.next_after;
      if (page.lines.length === LOG_PAGE_LINES) continue;
      if (run.status !== "queued" && run.status !== "running") {
        yield { event: "end", status: run.status };
        return;
      }
      await watch.wait(5_000, signal);
    }
  } finally {
    watch.close();
  }
}
