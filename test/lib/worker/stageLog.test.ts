/**
 * A run's stage logs on their way to the store: batched per turn, in order even when writes fail,
 * and each line under the stage that logged it.
 */
import { describe, expect, it } from "vitest";
import { LogTurn, StageLog, type LogWriter } from "../../../lib/worker/stageLog.ts";
import { settle } from "../../support/manualClock.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Logs flushed by one turn, as a worker pool's runs in flight are: in the order they were made. */
const logs: StageLog[] = [];
const logTurn = new LogTurn(() => {
  for (const log of logs) log.flush();
});
function stageLog(writer: LogWriter): StageLog {
  const log = new StageLog(writer, logTurn);
  logs.push(log);
  return log;
}

/** What the stage's final write would carry: the lines in the log's buffer once it is closed. */
async function closed(log: StageLog): Promise<string[]> {
  await log.close();
  return log.take();
}

function recorder(opts: { failing?: () => boolean } = {}) {
  const writes: { index: number; lines: string[] }[] = [];
  const log = stageLog({
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
    expect(await closed(log)).toEqual(["c"]);
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
    expect(await closed(log)).toEqual([]);
  });

  it("drops a line logged for a stage that has ended, rather than filing it under the next", async () => {
    const { log } = recorder();
    log.open(0);
    log.add(0, "first");
    expect(await closed(log)).toEqual(["first"]);
    log.open(1);
    log.add(0, "late output of the first stage");
    log.add(1, "second");
    expect(await closed(log)).toEqual(["second"]);
  });

  it("keeps the lines of a write that throws instead of rejecting, and the other logs of the turn still flush", async () => {
    const throwing = stageLog({
      writeLogs() {
        throw new Error("not a promise");
      },
    });
    throwing.open(0);
    throwing.add(0, "a"); // flushed first
    const other = recorder();
    other.log.open(0);
    other.log.add(0, "x");
    await turn();
    await settle();
    expect(other.writes).toEqual([{ index: 0, lines: ["x"] }]);
    expect(await closed(throwing)).toEqual(["a"]);
  });

  it("flushes only the logs still waiting at the turn, after a burst of stages that opened and closed without one", async () => {
    const burst = Array.from({ length: 200 }, () => recorder());
    for (const [i, { log }] of burst.entries()) {
      log.open(0);
      log.add(0, `line ${i}`);
      expect(await closed(log)).toEqual([`line ${i}`]);
      // The next stage logs within the same turn: its line waits for the flush.
      log.open(1);
      if (i % 50 === 0) log.add(1, `next ${i}`);
      else expect(await closed(log)).toEqual([]);
    }
    await turn();
    await settle();
    const written = burst.flatMap(({ writes }) => writes);
    expect(written).toEqual([0, 50, 100, 150].map((i) => ({ index: 1, lines: [`next ${i}`] })));
  });

  it("puts the lines of the turns a slow write spans into one write after it, not one each", async () => {
    const writes: string[][] = [];
    let inFlight = 0;
    let most = 0;
    const log = stageLog({
      async writeLogs(_index, lines) {
        most = Math.max(most, ++inFlight);
        for (let i = 0; i < 5; i++) await turn();
        inFlight--;
        writes.push(lines);
      },
    });
    log.open(0);
    for (let i = 0; i < 4; i++) {
      log.add(0, `line ${i}`);
      await turn();
    }
    for (let i = 0; i < 12; i++) await turn();
    await settle();
    expect(writes).toEqual([["line 0"], ["line 1", "line 2", "line 3"]]);
    expect(most).toBe(1);
    expect(await closed(log)).toEqual([]);
  });

  it("after a failed write, tries again only once its stage logs more, however often other logs flush", async () => {
    let attempts = 0;
    let down = true;
    const written: string[][] = [];
    const failing = stageLog({
      async writeLogs(_index, lines) {
        attempts++;
        await turn();
        if (down) throw new Error("connection refused");
        written.push(lines);
      },
    });
    const chatty = recorder();
    failing.open(0);
    chatty.log.open(0);
    failing.add(0, "a");
    for (let i = 0; i < 20; i++) {
      chatty.log.add(0, `chatter ${i}`); // a line each turn: the turn's flush goes over both logs
      await turn();
    }
    await settle();
    expect(attempts).toBe(1);
    down = false;
    failing.add(0, "b");
    await turn();
    await turn();
    await settle();
    expect(attempts).toBe(2);
    expect(written).toEqual([["a", "b"]]);
    expect(chatty.writes.flatMap((w) => w.lines)).toHaveLength(20);
  });

  it("writes a line flushed at any point of a write's settling, a microtask after it included", async () => {
    // flush() comes from the turn's setImmediate in the pool; called from a microtask here, at each point
    // of a write that resolves at once, so that no moment between its end and its letting go is missed.
    for (let n = 0; n < 8; n++) {
      const writes: string[][] = [];
      const log = new StageLog({ writeLogs: async (_index, lines) => void writes.push(lines) }, new LogTurn(() => {}));
      log.open(0);
      log.add(0, "a");
      log.flush();
      for (let i = 0; i < n; i++) await Promise.resolve();
      log.add(0, "b");
      log.flush();
      await settle();
      expect(writes, `after ${n} microtasks`).toEqual([["a"], ["b"]]);
    }
  });
});

