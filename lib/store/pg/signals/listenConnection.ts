/**
 * A dedicated connection in LISTEN, for the store's wake-ups and cancel notices. Not a pool connection:
 * LISTEN belongs to a session, and a pooled session would be handed to other queries (and closed when
 * idle). When the connection fails it is replaced, after 100 ms doubling up to 5 s; the caller is told
 * after each reconnection, since notifications sent while it was down are lost. Channels can be added
 * and removed while it runs (LISTEN / UNLISTEN, one statement at a time, in the order asked).
 */
import pg from "pg";
import { quoteIdent } from "../connection.ts";

export interface ListenOptions {
  config: pg.ClientConfig;
  channels: readonly string[];
  onNotification: (channel: string, payload: string) => void;
  /** Called once a replacement connection listens: notifications may have been missed meanwhile. */
  onReconnect: () => void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

export class ListenConnection {
  private client: pg.Client | undefined;
  private started = false;
  private closed = false;
  private failures = 0;
  private attempts = 0;
  private connections = 0;
  private listeningNow = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly channels: Set<string>;
  /** The LISTEN and UNLISTEN statements asked for, in order. */
  private changes: Promise<void> = Promise.resolve();
  private markListening!: () => void;
  /** Resolves once the first connection listens. */
  private readonly listening = new Promise<void>((resolve) => (this.markListening = resolve));

  constructor(private readonly opts: ListenOptions) {
    this.channels = new Set(opts.channels);
  }

  /**
   * Which connection listens now: 1 for the first, 2 for its replacement, ...; 0 while none does. A
   * notification sent while connection g listens is received unless this has changed meanwhile.
   */
  get generation(): number {
    return this.listeningNow;
  }

  /** Listens to `channel` too; resolves once its notifications are received (or the connection is closed). */
  async add(channel: string): Promise<void> {
    const added = !this.channels.has(channel);
    this.channels.add(channel);
    await this.start();
    // A LISTEN asked for earlier may still be on its way: wait for it too.
    await (added ? this.change(`LISTEN ${quoteIdent(channel)}`) : this.changes);
  }

  /** Stops listening to `channel`. */
  remove(channel: string): void {
    if (this.channels.delete(channel)) void this.change(`UNLISTEN ${quoteIdent(channel)}`);
  }

  /** Runs `statement` on the current connection after those asked before; a connection made later listens to `channels` anyway. */
  private change(statement: string): Promise<void> {
    this.changes = this.changes.then(() => this.client?.query(statement).then(() => {}, () => {}));
    return this.changes;
  }

  /** Connects if not yet started; resolves once notifications are being received. */
  start(): Promise<void> {
    if (!this.started && !this.closed) {
      this.started = true;
      void this.connect();
    }
    return this.listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeningNow = 0;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(this.opts.config);
    this.client = client;
    this.attempts++;
    client.on("notification", (message) => this.opts.onNotification(message.channel, message.payload ?? ""));
    client.on("error", () => this.replace(client));
    client.on("end", () => this.replace(client));
    try {
      await client.connect();
      await client.query([...this.channels].map((channel) => `LISTEN ${quoteIdent(channel)}`).join("; "));
    } catch {
      this.replace(client);
      return;
    }
    if (this.client !== client) return; // closed or replaced while connecting
    // Anything but a first attempt that succeeded may have missed notifications.
    const reconnected = this.attempts > 1;
    this.failures = 0;
    this.listeningNow = ++this.connections;
    this.markListening();
    if (reconnected) this.opts.onReconnect();
  }

  /** Drops a failed connection and schedules the next attempt. */
  private replace(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listeningNow = 0;
    client.removeAllListeners();
    client.on("error", () => {}); // a late error on a dropped connection must not crash the process
    void client.end().catch(() => {});
    if (this.closed) return;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures++);
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }
}
