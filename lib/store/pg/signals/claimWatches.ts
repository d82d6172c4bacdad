/**
 * The claims a PgStore's workers are watching (Store.watchClaim), by fencing token: whose leases to
 * renew, whom to tell when a claim is lost (by a cancel notification, a renewal that finds the claim
 * gone, or the store's own delete or recovery), and whom to tell, once, that its run is to be cancelled.
 * A claim this store made is known from its claim on (`claimed`), before anyone watches it, so that
 * what is heard of it meanwhile is kept for its first watcher.
 */
import type { Claim } from "../../store.ts";

interface Watch {
  runId: string;
  lost: Set<(reason: string) => void>;
  cancel: Set<(error: string) => void>;
  /** Set once the watchers were told of a cancel: the error, for a watcher that comes later. */
  cancelError: string | undefined;
  /** Why the claim was lost before anyone watched it, for its first watcher. */
  lostReason: string | undefined;
  /** The LISTEN connection (its generation) that was listening when the claim was made; 0 for none. */
  heardFrom: number;
}

export class ClaimWatches {
  private readonly byToken = new Map<string, Watch>();

  get size(): number {
    return this.byToken.size;
  }

  /** A claim this store just made, with the cancel error its run had (null for none). */
  claimed(claim: Claim, heardFrom: number, cancelError: string | null): void {
    this.byToken.set(claim.token, { runId: claim.run.id, lost: new Set(), cancel: new Set(), cancelError: undefined, lostReason: undefined, heardFrom });
    if (cancelError !== null) this.cancel(claim.token, cancelError);
  }

  /** The generation of the LISTEN connection that has heard of the claim since it was made; 0 for none. */
  heardFrom(token: string): number {
    return this.byToken.get(token)?.heardFrom ?? 0;
  }

  /** Starts telling `onLost` and `onCancel` about `claim`; returns the function that stops it. */
  add(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    let watch = this.byToken.get(claim.token);
    if (!watch) this.byToken.set(claim.token, (watch = { runId: claim.run.id, lost: new Set(), cancel: new Set(), cancelError: undefined, lostReason: undefined, heardFrom: 0 }));
    const { lostReason } = watch;
    if (lostReason !== undefined) {
      this.byToken.delete(claim.token);
      queueMicrotask(() => onLost(lostReason));
      return () => {};
    }
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

  /**
   * Tells each listener of the claim, once, and stops watching it; nothing when it is not known. A
   * claim nobody watches yet keeps the reason for its first watcher.
   */
  lose(token: string, reason: string): void {
    const watch = this.byToken.get(token);
    if (!watch) return;
    if (watch.lost.size === 0) {
      watch.lostReason ??= reason;
      return;
    }
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

  /** The watched claims, for a lease renewal: a claim nobody watches is left to expire. */
  held(): { runId: string; token: string }[] {
    return [...this.byToken].filter(([, w]) => w.lost.size > 0).map(([token, w]) => ({ runId: w.runId, token }));
  }

  clear(): void {
    this.byToken.clear();
  }
}
