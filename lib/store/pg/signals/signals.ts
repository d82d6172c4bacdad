/**
 * A PgStore's traffic with other processes besides its queries: wake-ups (onClaimable), cancel notices
 * and lease renewals (watchClaim), and the periodic work of a store with workers (lease recovery,
 * retention).
 *
 * - Writes that make work claimable NOTIFY the claimable channel with this store's instance id; every
 *   other store's listeners are called when it arrives, and this store calls its own directly (its
 *   own notification, echoed back, is ignored: one wake-up per write, not two).
 * - A slow poll (pollIntervalMs) calls the listeners anyway, for notifications lost while the LISTEN
 *   connection was down; it is not on the hot path, which is the notification.
 * - Watched claims are renewed every leaseMs / 3, all in one statement; a claim the renewal no longer
 *   finds is lost, and one whose run has a cancel asked for is told so. Delete and recovery NOTIFY the
 *   cancel channel with the lost claim's token ({token, reason}), a cancel request with the token and
 *   the error to end with ({kind: "cancel", token, error}), so a watcher in any process hears within
 *   milliseconds rather than at its next renewal.
 * - Statements that append a run's lines or change its state NOTIFY the run channel with the run's id,
 *   when the run has followers (table run_followers): a store records itself as one for each run it
 *   has onRunChange listeners for, and LISTENs while it has any. One channel for every run, filtered
 *   here, rather than a channel per run, whose name would not fit PostgreSQL's 63 bytes with the
 *   schema suffix and which would cost a LISTEN round trip per follower.
 * - Stores with onClaimable listeners (those running workers) do the store's periodic work: the
 *   sweep for expired leases, expired Idempotency-Keys and, with --retain-runs, old finished runs,
 *   each on its interval, and at once when listening starts if its interval has passed.
 * These cadences run on real timers, not the injected clock: tests drive recovery by calling
 * PgStore.recoverExpired (and retention by PgStore.pruneFinished), and the clock only stamps times.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { Claim } from "../../store.ts";
import { ClaimWatches } from "./claimWatches.ts";
import { ListenConnection } from "./listenConnection.ts";

export interface SignalsOptions {
  listen: pg.ClientConfig;
  claimableChannel: string;
  cancelChannel: string;
  runChannel: string;
  leaseMs: number;
  pollIntervalMs: number;
  /** Extends the leases of `held`; resolves to the tokens still held, each with its run's cancel error or null. */
  renew: (held: { runId: string; token: string }[]) => Promise<Map<string, string | null>>;
  /** Whether a claim is no longer current, and its run's cancel error (a read: cheaper than a renewal's commit). */
  check: (claim: Claim) => Promise<{ lost: boolean; cancelError: string | null }>;
  /** Records this store (`instance`) as a follower of a run, or no longer one. */
  follow: (runId: string, instance: string) => Promise<unknown>;
  unfollow: (runId: string, instance: string) => Promise<unknown>;
  /** Work done every `intervalMs` while there are onClaimable listeners. */
  periodic: Periodic[];
}

export interface Periodic {
  intervalMs: number;
  /** A failure (the database unreachable) waits for the next time; a run still going skips it. */
  run: () => Promise<unknown>;
}

const LOST = "the run is no longer claimed by this worker";

export class Signals {
  /** Payload of this store's claimable notifications, so that it can tell its own apart. */
  readonly instance = randomUUID();
  readonly claimableChannel: string;
  readonly cancelChannel: string;
  readonly runChannel: string;
  readonly watches = new ClaimWatches();
  private readonly listeners = new Set<() => void>();
  /** onRunChange listeners by run id. */
  private readonly runListeners = new Map<string, Set<() => void>>();
  /** The last follow or unfollow statement asked for each run, until it is done. */
  private readonly following = new Map<string, Promise<unknown>>();
  private readonly connection: ListenConnection;
  private pollTimer: NodeJS.Timeout | undefined;
  private periodicTimers: NodeJS.Timeout[] = [];
  /** Each periodic work's last pass: when it started and whether it is still going. */
  private readonly passes = new Map<Periodic, { startedAt: number; running: boolean }>();
  private renewTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: SignalsOptions) {
    this.claimableChannel = opts.claimableChannel;
    this.cancelChannel = opts.cancelChannel;
    this.runChannel = opts.runChannel;
    this.connection = new ListenConnection({
      config: opts.listen,
      channels: [opts.claimableChannel, opts.cancelChannel],
      onNotification: (channel, payload) => this.received(channel, payload),
      onReconnect: () => {
        this.claimable();
        for (const runId of [...this.runListeners.keys()]) this.runChanged(runId);
        void this.renewAll();
      },
    });
  }

  /** Starts listening if not yet; resolves once notifications arrive. */
  listen(): Promise<void> {
    return this.connection.start();
  }

  /** Calls this process's claimable listeners. */
  claimable(): void {
    for (const listener of [...this.listeners]) listener();
  }

  onClaimable(listener: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    void this.listen();
    if (!this.pollTimer) {
      this.pollTimer = repeat(this.opts.pollIntervalMs, () => this.claimable());
      this.periodicTimers = this.opts.periodic.map((work) => this.repeatWork(work));
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size > 0) return;
      this.stopTimers();
    };
  }

  /**
   * Calls `listener` when run `runId` changes in any process, and once when this store is recorded as
   * the run's follower and hears the run channel (a change made before that would go unheard).
   */
  onRunChange(runId: string, listener: () => void): () => void {
    if (this.closed) return () => {};
    let listeners = this.runListeners.get(runId);
    if (!listeners) {
      this.runListeners.set(runId, (listeners = new Set()));
      this.inTurn(runId, () => this.opts.follow(runId, this.instance));
    }
    const own = () => listener(); // a listener added twice is two listeners
    listeners.add(own);
    void Promise.all([this.connection.add(this.runChannel), this.following.get(runId)]).then(() => {
      if (!this.closed && listeners.has(own)) own();
    });
    return () => {
      listeners.delete(own);
      if (listeners.size > 0 || this.runListeners.get(runId) !== listeners) return;
      this.runListeners.delete(runId);
      this.inTurn(runId, () => this.opts.unfollow(runId, this.instance));
      if (this.runListeners.size === 0 && !this.closed) this.connection.remove(this.runChannel);
    };
  }

  /** Runs a run's follow and unfollow statements one after the other, in the order asked. */
  private inTurn(runId: string, step: () => Promise<unknown>): void {
    // A failure (the database unreachable) leaves the follower to its own re-reads.
    const next = (this.following.get(runId) ?? Promise.resolve()).then(step).catch(() => {});
    this.following.set(runId, next);
    void next.then(() => {
      if (this.following.get(runId) === next) this.following.delete(runId);
    });
  }

  /** Which LISTEN connection is listening now (ListenConnection.generation); read before a claim is sent. */
  get listening(): number {
    return this.connection.generation;
  }

  /**
   * A claim this store made, with its run's cancel error as the claim statement read it, and the
   * LISTEN connection that was listening before that statement was sent (`listening`, 0 for none).
   */
  claimed(claim: Claim, heardFrom: number, cancelError: string | null): void {
    if (!this.closed) this.watches.claimed(claim, heardFrom, cancelError);
  }

  watch(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    if (this.closed) return () => {};
    const heardFrom = this.watches.heardFrom(claim.token);
    const unwatch = this.watches.add(claim, onLost, onCancel);
    this.renewTimer ??= repeat(this.opts.leaseMs / 3, () => void this.renewAll());
    // Notices about a claim are committed after it. When the connection that listened before this
    // store made the claim still listens, every one has been heard (and kept for this watch) or will
    // be. Otherwise, once cancel notices are heard, a read checks that the claim was not lost or asked
    // to cancel before: a notice committed before the LISTEN would go unheard until the next renewal.
    if (heardFrom === 0 || heardFrom !== this.connection.generation)
      void this.listen()
        .then(() => this.opts.check(claim))
        .then(({ lost, cancelError }) => {
          if (this.closed) return;
          if (lost) this.watches.lose(claim.token, LOST);
          else if (cancelError !== null) this.watches.cancel(claim.token, cancelError);
        })
        .catch(() => {}); // unreachable: the renewals will tell
    return () => {
      unwatch();
      this.stopRenewingWhenIdle();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopTimers();
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.listeners.clear();
    // Not awaited, so that a close in an outage is not held up: a row left behind only costs its run's
    // statements a NOTIFY each until the run ends.
    for (const runId of this.runListeners.keys()) void this.opts.unfollow(runId, this.instance).catch(() => {});
    this.runListeners.clear();
    this.watches.clear();
    await this.connection.close();
  }

  private received(channel: string, payload: string): void {
    if (this.closed) return;
    if (channel === this.claimableChannel) {
      if (payload !== this.instance) this.claimable();
    } else if (channel === this.runChannel) {
      this.runChanged(payload);
    } else if (channel === this.cancelChannel) {
      const notice = parseNotice(payload);
      if (notice?.kind === "cancel") this.watches.cancel(notice.token, notice.error);
      else if (notice) this.watches.lose(notice.token, notice.reason);
    }
  }

  private runChanged(runId: string): void {
    for (const listener of [...(this.runListeners.get(runId) ?? [])]) listener();
  }

  private renewAll(): Promise<void> {
    return this.renew(this.watches.held());
  }

  /** Renews `held`; tells the watchers of those no longer held. A failed renewal is retried next time. */
  private async renew(held: { runId: string; token: string }[]): Promise<void> {
    if (this.closed || held.length === 0) return;
    let still: Map<string, string | null>;
    try {
      still = await this.opts.renew(held);
    } catch {
      return;
    }
    if (this.closed) return;
    for (const { token } of held) {
      const cancelError = still.get(token);
      if (cancelError === undefined) this.watches.lose(token, LOST);
      else if (cancelError !== null) this.watches.cancel(token, cancelError);
    }
    this.stopRenewingWhenIdle();
  }

  private stopRenewingWhenIdle(): void {
    if (this.watches.size > 0) return;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  /** The poll and the periodic work, which run while there are listeners. */
  private stopTimers(): void {
    for (const timer of [this.pollTimer, ...this.periodicTimers]) clearInterval(timer);
    this.pollTimer = undefined;
    this.periodicTimers = [];
  }

  /**
   * Runs `work` every intervalMs while there are listeners, one pass at a time across subscriptions,
   * and at once when listening starts if no pass has started for an interval: a short-lived worker
   * would otherwise never get to it.
   */
  private repeatWork(work: Periodic): NodeJS.Timeout {
    const pass = () => {
      const state = this.passes.get(work);
      if (state?.running || this.closed) return;
      const next = { startedAt: performance.now(), running: true };
      this.passes.set(work, next);
      work
        .run()
        .catch(() => {}) // the database is unreachable: the next time tries again
        .finally(() => (next.running = false));
    };
    const last = this.passes.get(work)?.startedAt;
    if (last === undefined || performance.now() - last >= work.intervalMs) pass();
    return repeat(work.intervalMs, pass);
  }
}

/** setInterval that does not keep the process alive on its own (close() clears it anyway). */
function repeat(ms: number, tick: () => void): NodeJS.Timeout {
  const timer = setInterval(tick, ms);
  timer.unref();
  return timer;
}

type Notice = { kind: "lost"; token: string; reason: string } | { kind: "cancel"; token: string; error: string };

/** A cancel channel payload: a lost claim ({token, reason}) or a cancel request ({kind: "cancel", token, error}). */
function parseNotice(payload: string): Notice | undefined {
  try {
    const notice = JSON.parse(payload) as { kind?: unknown; token?: unknown; reason?: unknown; error?: unknown };
    if (typeof notice.token !== "string") return undefined;
    if (notice.kind === "cancel" && typeof notice.error === "string") return { kind: "cancel", token: notice.token, error: notice.error };
    if (notice.kind === undefined && typeof notice.reason === "string") return { kind: "lost", token: notice.token, reason: notice.reason };
  } catch {
    // not ours
  }
  return undefined;
}
