/** Reconnect on a fake clock: the back-off, the window since the last answer, and what is never retried. */
import { describe, expect, it } from "vitest";
import { ApiError, ConnectionError } from "../../cli/client/errors.ts";
import { Reconnect } from "../../cli/client/reconnect.ts";

const refused = () => new ConnectionError("cannot reach Stagerunner at http://h/: ECONNREFUSED");
const problem = (status: number) => new ApiError({ type: "about:blank", title: status === 503 ? "Service Unavailable" : "Not Found", status });

/** A Reconnect whose waits only move a fake clock; `waits` records each one. */
function fakeClock(retryMs: number) {
  let now = 0;
  const waits: number[] = [];
  const notes: string[] = [];
  const reconnect = new Reconnect({
    retryMs,
    notify: (line) => notes.push(line),
    now: () => now,
    wait: async (ms) => {
      waits.push(ms);
      now += ms;
    },
  });
  return { reconnect, waits, notes, advance: (ms: number) => (now += ms) };
}

/** A request that fails with each of `failures` in turn, then answers "ok". */
function failing(...failures: Error[]) {
  let calls = 0;
  return {
    request: async () => {
      const failure = failures[calls++];
      if (failure) throw failure;
      return "ok";
    },
    calls: () => calls,
  };
}

describe("Reconnect", () => {
  it("retries connection errors and 5xx with back-off doubling from 0.5 s to 5 s, and says so once", async () => {
    const { reconnect, waits, notes } = fakeClock(60_000);
    const { request } = failing(refused(), problem(503), refused(), refused(), refused(), refused(), problem(502));
    await expect(reconnect.call(request)).resolves.toBe("ok");
    expect(waits).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(notes).toEqual(["connection lost (cannot reach Stagerunner at http://h/: ECONNREFUSED); retrying for up to 60 s"]);
  });

  it("gives up once the window since the last answer has passed, naming the last failure", async () => {
    const { reconnect, waits } = fakeClock(1000);
    const { request } = failing(...Array.from({ length: 10 }, refused));
    await expect(reconnect.call(request)).rejects.toThrow(/^cannot reach Stagerunner at http:\/\/h\/: ECONNREFUSED; gave up after 1 s of retrying$/);
    expect(waits).toEqual([500, 500]);
  });

  it("counts the window from an outage's first failure; an answer ends the outage", async () => {
    const { reconnect, waits, advance } = fakeClock(1000);
    // A request that took long to fail (a long-poll that hung until its timeout) still gets its retries.
    const slow = failing(refused(), refused());
    const request = () => {
      if (slow.calls() === 0) advance(50_000);
      return slow.request();
    };
    await expect(reconnect.call(request)).resolves.toBe("ok");
    expect(waits).toEqual([500, 500]);
    // A second outage has a window of its own.
    await expect(reconnect.call(failing(refused(), refused()).request)).resolves.toBe("ok");
    expect(waits).toEqual([500, 500, 500, 500]);
  });

  it("never retries the API's refusal (4xx), nor anything when the window is 0", async () => {
    const { reconnect, waits } = fakeClock(60_000);
    const notFound = failing(problem(404));
    await expect(reconnect.call(notFound.request)).rejects.toMatchObject({ problem: { status: 404 } });
    expect(waits).toEqual([]);
    const once = fakeClock(0);
    const down = failing(refused());
    await expect(once.reconnect.call(down.request)).rejects.toThrow(/^cannot reach Stagerunner at http:\/\/h\/: ECONNREFUSED$/);
    expect(once.notes).toEqual([]);
  });
});
