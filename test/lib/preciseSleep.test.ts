/**
 * The real clock's sleeps: on time, in order, abortable, and leaving no timer behind. These use real
 * time, a few milliseconds at most, since what they check is how the sleeps meet the event loop.
 */
import { getEventListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { PreciseSleep } from "../../lib/preciseSleep.ts";

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("PreciseSleep", () => {
  it("ends every sleep no earlier than asked, in deadline order, however many sleep at once", async () => {
    const sleep = new PreciseSleep();
    const ended: string[] = [];
    const started = performance.now();
    const late: number[] = [];
    await Promise.all(
      ([["a", 12], ["b", 4], ["c", 8], ["d", 4], ["e", 0], ["f", 1]] as const).map(async ([name, ms]) => {
        await sleep.sleep(ms);
        late.push(performance.now() - started - ms);
        ended.push(name);
      }),
    );
    expect(ended).toEqual(["e", "f", "b", "d", "c", "a"]);
    for (const lateness of late) expect(lateness).toBeGreaterThanOrEqual(0);
  });

  it("rejects with the signal's reason as soon as it aborts, and the other sleeps still end", async () => {
    const sleep = new PreciseSleep();
    const controller = new AbortController();
    const long = sleep.sleep(60_000, controller.signal);
    const short = sleep.sleep(3);
    const reason = new Error("cancelled");
    setTimeout(() => controller.abort(reason), 1);
    await expect(long).rejects.toBe(reason);
    await expect(short).resolves.toBeUndefined();
    await expect(sleep.sleep(1, controller.signal)).rejects.toBe(reason); // already aborted
  });

  it("listens to a signal once however many times it is slept on, and an abort ends only the sleep under way", async () => {
    const sleep = new PreciseSleep();
    const controller = new AbortController();
    for (let i = 0; i < 3; i++) await sleep.sleep(1, controller.signal);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    const pending = sleep.sleep(60_000, controller.signal);
    const other = sleep.sleep(2);
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
    await expect(other).resolves.toBeUndefined();
  });

  it("leaves no timer behind once its sleepers are gone, so that it never holds the process up", async () => {
    const sleep = new PreciseSleep();
    const before = timers();
    const controller = new AbortController();
    const long = sleep.sleep(60_000, controller.signal).catch(() => "aborted");
    expect(timers()).toBe(before + 1);
    controller.abort();
    expect(await long).toBe("aborted");
    expect(timers()).toBe(before);
  });
});
