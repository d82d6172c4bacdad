/** The in-memory store's Idempotency-Keys: what each made, by scope and key, forgotten after a day. */
import { IDEMPOTENCY_KEY_TTL_MS, type IdempotencyKey, type Idempotent } from "../store.ts";

export class IdempotencyKeys {
  /** Oldest first (a Map keeps insertion order), so that expired keys are found at the front. */
  private readonly made = new Map<string, { fingerprint: string; id: string; at: number }>();

  /** Makes a thing at most once per `scope` and key: `make` returns its id, `read` reads it back. */
  once<T>(scope: string, key: IdempotencyKey, now: number, make: () => string, read: (id: string) => T | undefined): Idempotent<T> {
    for (const [name, entry] of this.made) {
      if (entry.at > now - IDEMPOTENCY_KEY_TTL_MS) break;
      this.made.delete(name);
    }
    const name = `${scope}\n${key.key}`;
    const entry = this.made.get(name);
    if (entry) {
      if (entry.fingerprint !== key.fingerprint) return { mismatch: true };
      const value = read(entry.id);
      return value === undefined ? { gone: true } : { value, replayed: true };
    }
    const id = make();
    this.made.set(name, { fingerprint: key.fingerprint, id, at: now });
    return { value: read(id)!, replayed: false };
  }
}
