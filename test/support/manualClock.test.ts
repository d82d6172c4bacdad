/** The test clock itself: the worker-pool and property tests are only as good as it is. */
import { describe, expect, it } from "vitest";
import { EPOCH, ManualClock, sequentialIds, settle, uuidFor } from "./manualClock.ts";
import { IdParam } from "../../lib/api/schemas.ts";

describe("ManualClock", () => {
  it("resolves a sleep once time reaches its deadline, not before", async () => {
    const clock = new ManualClock();
    let woke = false;
    void clock.sleep(100).then(() => (woke = true));
    await clock.advance(99);
    expect(woke).toBe(false);
    expect(clock.pending).toBe(1);
    await clock.advance(1);
    expect(woke).toBe(true);
    expect(clock.now()).toBe(EPOCH + 100);
    expect(clock.pending).toBe(0);
  });

  it("wakes sleeps in deadline order, at their own time, including sleeps started by woken code", async () => {
    const clock = new ManualClock();
    const woke: [string, number][] = [];
    void clock.sleep(30).then(() => woke.push(["b", clock.now()]));
    void clock.sleep(10).then(async () => {
      woke.push(["a", clock.now()]);
      await clock.sleep(5);
      woke.push(["a2", clock.now()]);
    });
    void clock.sleep(30).then(() => woke.push(["c", clock.now()]));
    await clock.advance(100);
    expect(woke).toEqual([["a", EPOCH + 10], ["a2", EPOCH + 15], ["b", EPOCH + 30], ["c", EPOCH + 30]]);
    expect(clock.now()).toBe(EPOCH + 100);
  });

  it("rejects with the signal's reason on abort, and at once when already aborted", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    const reason = new Error("cancelled");
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
    await expect(clock.sleep(0, controller.signal)).rejects.toBe(reason);
  });

  it("resolves a 0-ms sleep without time passing", async () => {
    const clock = new ManualClock();
    let woke = false;
    void clock.sleep(0).then(() => (woke = true));
    await settle();
    expect(woke).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("fires a timer at its deadline as a sleep wakes, and never once it is cancelled", async () => {
    const clock = new ManualClock();
    const fired: [string, number][] = [];
    clock.timer(100, () => fired.push(["kept", clock.now()]));
    const cancel = clock.timer(50, () => fired.push(["cancelled", clock.now()]));
    expect(clock.pending).toBe(2);
    cancel();
    await settle();
    expect(clock.pending).toBe(1);
    await clock.advance(200);
    expect(fired).toEqual([["kept", EPOCH + 100]]);
    // A timer of 0 cancelled before its turn does not fire either.
    clock.timer(0, () => fired.push(["zero", clock.now()]))();
    await settle();
    expect(fired).toHaveLength(1);
  });

  it("advances to the next deadline, and says when nobody sleeps", async () => {
    const clock = new ManualClock();
    expect(await clock.advanceToNext()).toBe(false);
    void clock.sleep(42);
    expect(await clock.advanceToNext()).toBe(true);
    expect(clock.now()).toBe(EPOCH + 42);
  });
});

describe("sequentialIds", () => {
  it("counts up in UUIDs the wire schema accepts, each generator from 1", () => {
    const ids = sequentialIds();
    expect([ids(), ids()]).toEqual([uuidFor(1), uuidFor(2)]);
    expect(sequentialIds()()).toBe(uuidFor(1));
    for (const n of [1, 99, 999_999_999_999]) expect(IdParam.safeParse(uuidFor(n)).success).toBe(true);
  });
});
