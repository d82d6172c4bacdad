/**
 * Ids are UUIDs, the wire format's `<uuid>`: random ones (version 4) across refills of the entropy
 * pool, and the stores' time-ordered ones (version 7), each above the one before.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { randomId, timeOrderedBytes, timeOrderedId, uuidBytes, uuidText } from "../../lib/ids.ts";
import { IdParam } from "../../lib/api/schemas.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("randomId", () => {
  it("makes distinct version-4 UUIDs, also across refills of its pool (256 ids each)", () => {
    const ids = Array.from({ length: 2000 }, randomId);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("spreads its random bits over every hex digit the format leaves free", () => {
    // 4000 ids: every free position takes all 16 digits (a fixed or stuck digit would show as fewer).
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let n = 0; n < 4000; n++) [...randomId()].forEach((c, i) => seen[i]!.add(c));
    const counts = seen.map((s) => s.size);
    expect(counts.filter((c, i) => ![8, 13, 14, 18, 19, 23].includes(i) && c !== 16)).toEqual([]);
    expect([counts[8], counts[13], counts[14], counts[18], counts[19], counts[23]]).toEqual([1, 1, 1, 1, 4, 1]);
  });
});

/** Pairs of positions (among `positions`) whose hex digits were equal in every one of `ids`: a byte copied to two places. */
function copiedDigits(ids: string[], positions: number[]): [number, number][] {
  const copied: [number, number][] = [];
  for (const i of positions) for (const j of positions) if (i < j && ids.every((id) => id[i] === id[j])) copied.push([i, j]);
  return copied;
}

/** The hex digits of a UUID's 36 characters, dashes left out, from `from` on. */
const digitsFrom = (from: number): number[] => Array.from({ length: 36 }, (_, i) => i).filter((i) => i >= from && ![8, 13, 18, 23].includes(i));

describe("ids' random bytes", () => {
  it("are each drawn on their own: no digit of an id repeats another's in every id", () => {
    const random = Array.from({ length: 200 }, randomId);
    expect(copiedDigits(random, digitsFrom(0).filter((i) => i !== 14 && i !== 19))).toEqual([]);
    // A time-ordered id's random part: after its time and counter, its variant digit left out.
    const ordered = Array.from({ length: 200 }, () => timeOrderedId());
    expect(copiedDigits(ordered, digitsFrom(20))).toEqual([]);
  });
});

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("timeOrderedId", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("makes version-7 UUIDs that the wire schema takes, starting with the time in ms", () => {
    const now = Date.now();
    const id = timeOrderedId();
    expect(id).toMatch(UUID_V7);
    expect(IdParam.safeParse(id).success).toBe(true);
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(now);
    expect(ms).toBeLessThan(now + 1000);
  });

  it("makes each id greater than the last, within one millisecond (past 4096 of them) and when the clock goes back", () => {
    // Ahead of any real clock, so that every id of the first loop has the same millisecond.
    const at = vi.spyOn(Date, "now").mockReturnValue(Date.UTC(2100, 0, 1, 12));
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) ids.push(timeOrderedId());
    at.mockReturnValue(Date.UTC(2100, 0, 1, 11)); // an hour back, as after a clock step
    for (let i = 0; i < 10; i++) ids.push(timeOrderedId());
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(ids.filter((id, i) => i > 0 && !(ids[i - 1]! < id))).toEqual([]);
  });

  it("goes up from a clock before 1970 to one after, in a process whose first id came from the former", async () => {
    vi.resetModules();
    const fresh = await import("../../lib/ids.ts");
    const bytes = new Uint8Array(48);
    fresh.timeOrderedBytes(bytes, 0, -1000);
    fresh.timeOrderedBytes(bytes, 16, -5);
    fresh.timeOrderedBytes(bytes, 32, 1000);
    const ids = [0, 16, 32].map((at) => fresh.uuidText(bytes, at));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
  });

  it("takes the time it is given (a store's clock reading of the run's creation) instead of reading the clock", () => {
    const at = Date.UTC(2101, 5, 1, 12, 30);
    const id = timeOrderedId(at);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    // A later call without a time, on a clock behind that one, still sorts after it.
    expect(timeOrderedId() > id).toBe(true);
    // Fractions of a millisecond (a clock may give them) share the millisecond's counter.
    const within = Array.from({ length: 200 }, (_, i) => timeOrderedId(at + 60_000 + (i + 1) * 0.004));
    expect(within.filter((x, i) => i > 0 && !(within[i - 1]! < x))).toEqual([]);
    expect(new Set(within.map((x) => parseInt(x.slice(0, 8) + x.slice(9, 13), 16)))).toEqual(new Set([at + 60_000]));
  });
});

describe("ids as bytes (how the in-memory store keeps a run's id)", () => {
  it("read back as the same text, for random and time-ordered ids", () => {
    const bytes = new Uint8Array(32);
    for (const id of [...Array.from({ length: 100 }, randomId), ...Array.from({ length: 100 }, () => timeOrderedId())]) {
      expect(uuidBytes(id, bytes, 16)).toBe(true);
      expect(uuidText(bytes, 16)).toBe(id);
    }
  });

  it("are refused for anything but a lowercase UUID", () => {
    const bytes = new Uint8Array(16);
    const id = randomId();
    for (const bad of ["", "nope", id.toUpperCase(), id.slice(1), `${id}0`, id.replace(/-/g, "_"), id.replaceAll("-", "") + "----", `${id.slice(0, 35)}g`, `${id.slice(0, 35)}\u0100`, `${id.slice(0, 35)}é`])
      expect(uuidBytes(bad, bytes, 0), bad).toBe(false);
  });

  it("made in place, continue the time-ordered ids' sequence: each above the one before, text or bytes", () => {
    const at = Date.UTC(2102, 0, 1);
    const bytes = new Uint8Array(16);
    const ids: string[] = [];
    for (let i = 0; i < 1500; i++) {
      if (i % 3 === 0) ids.push(timeOrderedId(at));
      else {
        timeOrderedBytes(bytes, 0, at);
        ids.push(uuidText(bytes, 0));
      }
    }
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(ids.filter((id, i) => i > 0 && !(ids[i - 1]! < id))).toEqual([]);
    // All in one millisecond: the counter starts below 2048, so 1,500 ids do not carry it over.
    expect(parseInt(ids[1499]!.slice(0, 8) + ids[1499]!.slice(9, 13), 16)).toBe(at);
  });
});
