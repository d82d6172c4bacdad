/**
 * A run's stage logs on their way to the store: batched per turn, in order even when writes fail,
 * and each line under the stage that logged it.
 */
import { describe, expect, it } from "vitest";
import { StageLog } from "../../lib/stageLog.ts";
import { settle } from "../support/manualClock.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function recorder(opts: { failing?: () => boolean } = {}) {
  const writes: { index: number; lines: string[] }[] = [];
  const log = new StageLog({
    async writeLogs(index, lines) {
      if (opts.failing?.()) {
        // A failure takes its time, as a timed-out connection would: later lines arrive meanwhile.
        for (let i = 0; i < 3; i++) await turn();
        throw new Error("connection refused");
      }
      writes.push({ index, lines });
    },
  });
  return { log, writes };
}

describe("StageLog", () => {
  it("writes the lines of one turn in one write, and hands the rest to the stage's status write", async () => {
    const { log, writes } = recorder();
    log.open(0);
    log.add(0, "a");
    log.add(0, "b");
    await turn();
    await settle();
    log.add(0, "c");
    expect(await log.close()).toEqual(["c"]);
    await settle();
    expect(writes).toEqual([{ index: 0, lines: ["a", "b"] }]);
  });

  it("keeps the lines of failed writes, in the order they were logged", async () => {
    let down = true;
    const { log, writes } = recorder({ failing: () => down });
    log.open(0);
    for (const line of ["a", "b", "c"]) {
      log.add(0, line);
      await turn();
    }
    for (let i = 0; i < 12; i++) await turn();
    expect(writes).toEqual([]);
    down = false;
    log.add(0, "d");
    await turn();
    await settle();
    expect(writes).toEqual([{ index: 0, lines: ["a", "b", "c", "d"] }]);
    expect(await log.close()).toEqual([]);
  });

  it("drops a line logged for a stage that has ended, rather than filing it under the next", async () => {
    const { log } = recorder();
    log.open(0);
    log.add(0, "first");
    expect(await log.close()).toEqual(["first"]);
    log.open(1);
    log.add(0, "late output of the first stage");
    log.add(1, "second");
    expect(await log.close()).toEqual(["second"]);
  });

  it("keeps the lines of a write that throws instead of rejecting, and the other logs of the turn still flush", async () => {
    const throwing = new StageLog({
      writeLogs() {
        throw new Error("not a promise");
      },
    });
    throwing.open(0);
    throwing.add(0, "a"); // flushed first: the turn takes the logs in the order they began waiting
    const other = recorder();
    other.log.open(0);
    other.log.add(0, "x");
    await turn();
    await settle();
    expect(other.writes).toEqual([{ index: 0, lines: ["x"] }]);
    expect(await throwing.close()).toEqual(["a"]);
  });

  it("flushes only the logs still waiting at the turn, after a burst of stages that opened and closed without one", async () => {
    const burst = Array.from({ length: 200 }, () => recorder());
    for (const [i, { log }] of burst.entries()) {
      log.open(0);
      log.add(0, `line ${i}`);
      expect(await log.close()).toEqual([`line ${i}`]);
      // The next stage logs within the same turn: its line waits for the flush.
      log.open(1);
      if (i % 50 === 0) log.add(1, `next ${i}`);
      else expect(await log.close()).toEqual([]);
    }
    await turn();
    await settle();
    const written = burst.flatMap(({ writes }) => writes);
    expect(written).toEqual([0, 50, 100, 150].map((i) => ({ index: 1, lines: [`next ${i}`] })));
  });
});
