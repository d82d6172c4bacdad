/**
 * The real clock's sleep: a 0-ms sleep costs no timer, and an abort ends a sleep at once with its reason;
 * its timer fires once unless cancelled.
 */
import { describe, expect, it } from "vitest";
import { backoffMs, iso, systemClock } from "../../lib/clock.ts";

describe("systemClock", () => {
  it("resolves a 0-ms sleep before any timer fires", async () => {
    let timer = false;
    setTimeout(() => (timer = true), 0);
    await systemClock.sleep(0);
    expect(timer).toBe(false);
  });

  it("rejects with the signal's reason when aborted during or before the sleep", async () => {
    const abort = new AbortController();
    const sleeping = systemClock.sleep(60_000, abort.signal);
    abort.abort(new Error("cancelled"));
    await expect(sleeping).rejects.toThrow("cancelled");
    await expect(systemClock.sleep(10, abort.signal)).rejects.toThrow("cancelled");
  });

  it("fires a timer after its time, and never once it is cancelled", async () => {
    const fired: string[] = [];
    systemClock.timer(5, () => fired.push("kept"));
    const cancel = systemClock.timer(5, () => fired.push("cancelled"));
    cancel();
    await systemClock.sleep(30);
    expect(fired).toEqual(["kept"]);
  });
});

describe("iso and backoffMs", () => {
  it("write timestamps as Date does, and back off from 50 ms doubling to at most 5 s", () => {
    expect(iso(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe("2026-01-02T03:04:05.006Z");
    expect([0, 1, 2, 6, 7, 30].map(backoffMs)).toEqual([50, 100, 200, 3200, 5000, 5000]);
  });
});
