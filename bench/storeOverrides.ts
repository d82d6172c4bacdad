/**
 * A Store with some methods replaced, for measuring: every other method goes to the inner store,
 * bound to it once (not per call: the benches call them on their hot path).
 */
import type { Store } from "../lib/store.ts";

export function withOverrides(inner: Store, overrides: Partial<Store>): Store {
  const bound = new Map<PropertyKey, unknown>(Object.entries(overrides));
  return new Proxy(inner, {
    get(target, key) {
      let value = bound.get(key);
      if (value === undefined) {
        value = Reflect.get(target, key);
        if (typeof value === "function") value = value.bind(target);
        bound.set(key, value);
      }
      return value;
    },
  });
}
