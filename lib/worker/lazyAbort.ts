/**
 * An abort whose AbortController is made only when someone asks for its signal. Creating an
 * AbortController per run was 8% of the engine's time with 0-ms stages (cpu profile of the queue
 * bench), and most stages that finish at once never look at the signal.
 */
export class LazyAbort {
  private controller: AbortController | undefined;
  aborted = false;
  reason: unknown = undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** The first reason wins; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
