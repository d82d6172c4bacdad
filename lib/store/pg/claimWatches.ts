/**
 * The claims a PgStore's workers are watching (Store.watchClaim), by fencing token: whose leases to
 * renew, and whom to tell when a claim is lost, whether by a cancel notification, a renewal that finds
 * the claim gone, or the store's own delete or recovery.
 */
import type { Claim } from "../store.ts";

interface Watch {
  runId: string;
  listeners: Set<(reason: string) => void>;
}

export class ClaimWatches {
  private readonly byToken = new Map<string, Watch>();

  get size(): number {
    return this.byToken.size;
  }

  /** Starts telling `onLost` about `claim`; returns the function that stops it. */
  add(claim: Claim, onLost: (reason: string) => void): () => void {
    let watch = this.byToken.get(claim.token);
    if (!watch) this.byToken.set(claim.token, (watch = { runId: claim.run.id, listeners: new Set() }));
    watch.listeners.add(onLost);
    return () => {
      const current = this.byToken.get(claim.token);
      if (!current) return;
      current.listeners.delete(onLost);
      if (current.listeners.size === 0) this.byToken.delete(claim.token);
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
    for (const onLost of watch.listeners) onLost(reason);
  }

  /** The watched claims, for a lease renewal. */
  held(): { runId: string; token: string }[] {
    return [...this.byToken].map(([token, w]) => ({ runId: w.runId, token }));
  }

  clear(): void {
    this.byToken.clear();
  }
}
