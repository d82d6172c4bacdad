/**
 * A Store with some methods replaced, for measuring: every other method goes to the inner store,
 * bound to it once (not per call: the benches call them on their hot path).
 */
import type { Store } from "../lib/store/store.ts";

export function withOverrides(inner: Store, overrides: Partial<Store>): Store {
  const store: Record<string, unknown> = { durable: inner.durable };
  for (let proto: object | null = inner; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto))
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value: unknown = Reflect.get(inner, key);
      if (key !== "constructor" && !(key in store) && typeof value === "function") store[key] = value.bind(inner);
    }
  return Object.assign(store, overrides) as unknown as Store;
}
