/**
 * The claims a PgStore's workers are watching (Store.watchClaim), by fencing token: whose leases to
 * renew, whom to tell when a claim is lost (by a cancel notification, a renewal that finds the claim
 * gone, or the store's own delete or recovery), and whom to tell, once, that its run is to be cancelled.
 */
import type { Claim } from "../../store.ts";

interface Watch {
  runId: string;
  lost: Set<(reason: string) => void>;
  cancel: Set<(error: string) => void>;
  /** Set once the watchers were told of a cancel: the error, for a watcher that comes later. */
  cancelError: string | undefined;
}

export class ClaimWatches {
  private readonly byToken = new Map<string, Watch>();

  get size(): number {
    return this.byToken.size;
  }

  /** Starts telling `onLost` and `onCancel` about `claim`; returns the function that stops it. */
  add(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    let watch = this.byToken.get(claim.token);
    if (!watch) this.byToken.set(claim.token, (watch = { runId: claim.run.id, lost: new Set(), cancel: new Set(), cancelError: undefined }));
    watch.lost.add(onLost);
    if (onCancel) {
      const error = watch.cancelError;
      if (error === undefined) watch.cancel.add(onCancel);
      else queueMicrotask(() => onCancel(error));
    }
    return () => {
      const current = this.byToken.get(claim.token);
      if (!current) return;
      current.lost.delete(onLost);
      if (onCancel) current.cancel.delete(onCancel);
      if (current.lost.size === 0) this.byToken.delete(claim.token);
    };
  }

  /** Stops watching a claim without telling anyone: its owner is ending the run itself. */
  drop(token: string): void {
    this.byToken.delete(token);
  }

  /** Tells each listener of the claim, once, and stops watching it; nothing when it is not watched. */
  lose(token: string, reason: string): void {
    const watch = this.byToken.get(token);
    if (!watch) return;
    this.byToken.delete(token);
    for (const onLost of watch.lost) onLost(reason);
  }

  /**
   * Tells the claim's cancel listeners that its run is to end with `error`; only the first time (the
   * notice, this process's own call and a renewal may each bring the same cancel). The claim stays
   * watched: its owner ends the run.
   */
  cancel(token: string, error: string): void {
    const watch = this.byToken.get(token);
    if (!watch || watch.cancelError !== undefined) return;
    watch.cancelError = error;
    const listeners = [...watch.cancel];
    watch.cancel.clear();
    for (const onCancel of listeners) onCancel(error);
  }

  /** The watched claims, for a lease renewal. */
  held(): { runId: string; token: string }[] {
    return [...this.byToken].map(([token, w]) => ({ runId: w.runId, token }));
  }

  clear(): void {
    this.byToken.clear();
  }
}
