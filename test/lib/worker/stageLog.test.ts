/**
 * A run's stage log on its way to the store: batched per turn, in order even when writes fail, and
 * each line under the stage that logged it.
 */
import { describe, expect, it } from "vitest";
import { StageLog } from "../../../lib/worker/stageLog.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function recorder(opts: { failing?: () => boolean; slow?: number } = {}) {
  const writes: { index: number; lines: string[] }[] = [];
  let attempts = 0;
  const log = new StageLog(async (index, lines) => {
    attempts++;
    for (let i = 0; i < (opts.slow ?? 0); i++) await turn();
    if (opts.failing?.()) throw new Error("connection refused");
    writes.push({ index, lines });
  });
  return { log, writes, attempts: () => attempts };
}

describe("StageLog", () => {
  it("writes the lines of one turn in one write, and hands the rest to the stage's status write", async () => {
    const { log, writes } = recorder();
    log.open(0);
    log.add(0, "a");
    log.add(0, "b");
    await turn();
    log.add(0, "c");
    expect(await log.close()).toEqual(["c"]);
    expect(writes).toEqual([{ index: 0, lines: ["a", "b"] }]);
  });

  it("keeps the lines of a failed write, in the order they were logged, for the stage's status write", async () => {
    let failing = true;
    const { log, writes } = recorder({ failing: () => failing, slow: 2 });
    log.open(0);
    log.add(0, "a");
    await turn();
    log.add(0, "b"); // arrives while the write that fails is in flight
    expect(await log.close()).toEqual(["a", "b"]);
    failing = false;
    expect(writes).toEqual([]);
  });

  it("after a failed write, tries again only once its stage logs more", async () => {
    let failing = true;
    const { log, writes, attempts } = recorder({ failing: () => failing });
    log.open(0);
    log.add(0, "a");
    for (let i = 0; i < 5; i++) await turn();
    expect(attempts()).toBe(1);
    failing = false;
    log.add(0, "b");
    for (let i = 0; i < 3; i++) await turn();
    expect(writes).toEqual([{ index: 0, lines: ["a", "b"] }]);
    expect(await log.close()).toEqual([]);
  });

  it("puts the lines of the turns a slow write spans into one write after it, not one each", async () => {
    const { log, writes } = recorder({ slow: 4 });
    log.open(0);
    log.add(0, "a");
    await turn();
    for (const line of ["b", "c", "d"]) {
      log.add(0, line);
      await turn();
    }
    for (let i = 0; i < 12; i++) await turn();
    expect(writes).toEqual([
      { index: 0, lines: ["a"] },
      { index: 0, lines: ["b", "c", "d"] },
    ]);
  });

  it("drops a line logged for a stage that has ended, rather than filing it under the next", async () => {
    const { log, writes } = recorder();
    log.open(0);
    log.add(0, "a");
    expect(await log.close()).toEqual(["a"]);
    log.open(1);
    log.add(0, "late");
    log.add(1, "b");
    await turn();
    expect(writes).toEqual([{ index: 1, lines: ["b"] }]);
  });
});
