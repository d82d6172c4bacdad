/**
 * Following a run to its end through GET /runs/{id}/logs long-polls, which every deployment serves
 * (SSE needs a connection a Lambda cannot hold): each line is shown once, in order, and a reconnect
 * resumes after the last line shown. Stops when the run has finished or the user presses Ctrl-C.
 */
import type { LogsPage, Run } from "../../lib/api/schemas.ts";
import type { StagerunnerApi } from "./api.ts";
import { queuedLine } from "./format.ts";
import type { RunView } from "./progress.ts";
import { Reconnect } from "./reconnect.ts";

export const TERMINAL: ReadonlySet<Run["status"]> = new Set(["success", "failed", "cancelled"]);

/** How long one long-poll waits for a line; under the server's 25 s limit and most gateways' 29-30 s. */
export const LONG_POLL_MS = 20_000;

/** How long a queued run may take to start before the follower says what it waits for. */
export const QUEUE_NOTICE_MS = 1000;

export interface FollowOptions {
  view: RunView;
  /** How long to go on reconnecting after the last answer (--retry-s); 0 gives up at the first failure. */
  retryMs: number;
  /** Lines about the following itself (the queue, a lost connection), for stderr. */
  notify: (line: string) => void;
  /** Aborting stops at once, even in the middle of a request. */
  signal?: AbortSignal;
  /** false: show the lines there are now and return (`logs` without --follow). */
  follow?: boolean;
}

/** Shows `run`'s lines through `opts.view` until it has finished; resolves with its last state. */
export async function followRun(api: StagerunnerApi, run: Run, opts: FollowOptions): Promise<Run> {
  const follow = opts.follow ?? true;
  const reconnect = new Reconnect({ retryMs: opts.retryMs, notify: opts.notify, ...(opts.signal ? { signal: opts.signal } : {}) });
  const request = <T>(call: (signal?: AbortSignal) => Promise<T>): Promise<T> => reconnect.call(() => call(opts.signal));
  // A queued run that has not started after a first short wait: say once what it waits for.
  let noticeDue = follow && run.status === "queued";
  let after = 0;
  for (;;) {
    const wait_ms = !follow ? 0 : noticeDue ? QUEUE_NOTICE_MS : LONG_POLL_MS;
    const page: LogsPage = await request((signal) => api.getRunLogs(run.id, { after, wait_ms }, signal));
    if (noticeDue && page.status === "queued") {
      run = await request((signal) => api.getRun(run.id, signal));
      if (run.status === "queued") opts.notify(queuedLine(run));
    }
    noticeDue = false;
    // `done` says that the run has finished, not that this page has its last lines (a page holds up
    // to 1000): the end is a finished run's empty page.
    const end = page.done && page.lines.length === 0;
    // The run is fetched after the page, so that it is at least as new as every line on it.
    if (end || opts.view.needsRun(page.lines)) run = await request((signal) => api.getRun(run.id, signal));
    opts.view.lines(page.lines, run);
    after = page.next_after;
    if (end && TERMINAL.has(run.status)) {
      opts.view.end(run);
      return run;
    }
    if (!follow && page.lines.length === 0) return run;
  }
}

/**
 * Runs `work` with a signal that SIGINT aborts; while it runs, Ctrl-C stops the work instead of killing
 * the process, so that the caller can say what was left behind. The handler is removed afterwards.
 */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Interrupted());
  process.once("SIGINT", onSigint);
  try {
    return await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** The user pressed Ctrl-C. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "Interrupted";
  }
}
