/**
 * How the in-memory store keeps runs without objects of their own: log lines in a shared LineStore,
 * ids as bytes in pages of rows, found by binary search while they come in order. The Store contract
 * (store.contract.test.ts) covers what a reader sees; these cover the layouts' edges.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineStore } from "../../../../lib/store/memory/lineStore.ts";
import { MemoryStore } from "../../../../lib/store/memory/memoryStore.ts";
import { Fifo } from "../../../../lib/store/memory/sorted.ts";
import { randomId } from "../../../../lib/ids.ts";
import { iso } from "../../../../lib/clock.ts";
import { runOnly, seedPipeline } from "../../../support/fixtures.ts";
import { ManualClock, uuidFor } from "../../../support/manualClock.ts";

describe("LineStore", () => {
  it("keeps each slot's lines in order through interleaved writes, in place and chained, across chunks", () => {
    const store = new LineStore();
    store.addSlots(5000);
    const expected = new Map<number, string[]>();
    const write = (slot: number, lines: string[]) => {
      store.append(slot, [...lines, "not this one"], lines.length);
      expected.set(slot, [...(expected.get(slot) ?? []), ...lines]);
    };
    // Slot 7 alone (one segment, grown in place), then slots taking turns (a segment a write: more
    // than a page of segments), past the end of the first chunks of 8,192 lines.
    for (let i = 0; i < 100; i++) write(7, [`seven ${i}`]);
    for (let i = 0; i < 6000; i++) write(i % 3 === 0 ? 4999 : i % 50, Array.from({ length: i % 5 }, (_, j) => `${i}.${j}`));
    write(7, ["seven last"]);
    for (const [slot, lines] of expected) expect(store.read(slot), `slot ${slot}`).toEqual(lines);
    expect(store.read(4998)).toEqual([]);
    expect(store.has(4998)).toBe(false);
    expect(store.has(7)).toBe(true);
  });

  it("forgets a slot's lines on clear, and starts it afresh after", () => {
    const store = new LineStore();
    store.addSlots(3);
    store.append(0, ["a", "b"], 2);
    store.append(1, ["x"], 1);
    store.append(0, ["c"], 1);
    store.clear(0);
    expect(store.has(0)).toBe(false);
    expect(store.read(0)).toEqual([]);
    store.append(0, ["d"], 1);
    store.append(1, ["y"], 1);
    store.append(0, ["e"], 1);
    expect(store.read(0)).toEqual(["d", "e"]);
    expect(store.read(1)).toEqual(["x", "y"]);
  });

  it("grows a chained stage's last segment in place while it writes alone, and chains again after another's write", () => {
    const store = new LineStore();
    store.addSlots(2);
    store.append(0, ["a"], 1);
    store.append(1, ["x"], 1);
    store.append(0, ["b"], 1);
    store.append(0, ["c", "d"], 2);
    store.append(1, ["y"], 1);
    store.append(0, ["e"], 1);
    store.append(0, ["f"], 1);
    expect(store.read(0)).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(store.read(1)).toEqual(["x", "y"]);
  });

  it("reads back, for any mix of appends and clears over a few slots, what a list per slot would hold", () => {
    const op = fc.oneof(
      { arbitrary: fc.record({ slot: fc.nat(2), lines: fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }) }), weight: 8 },
      { arbitrary: fc.record({ clear: fc.nat(2) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const store = new LineStore();
        store.addSlots(3);
        const model: string[][] = [[], [], []];
        for (const o of ops) {
          if ("clear" in o) {
            store.clear(o.clear);
            model[o.clear] = [];
          } else {
            store.append(o.slot, [...o.lines, "past n"], o.lines.length);
            model[o.slot]!.push(...o.lines);
          }
        }
        for (let slot = 0; slot < 3; slot++) {
          expect(store.read(slot)).toEqual(model[slot]);
          expect(store.has(slot)).toBe(model[slot]!.length > 0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("writes nothing for no lines", () => {
    const store = new LineStore();
    store.addSlots(1);
    store.append(0, ["ignored"], 0);
    expect(store.has(0)).toBe(false);
  });
});

describe("Fifo (a pipeline's queued runs)", () => {
  it("gives its items back in the order they came, through emptying, long queues and compaction", () => {
    // Pushes in bursts and shifts in bursts, some far past the 1,024 items after which it compacts.
    const burst = fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1000, max: 3000 })));
    fc.assert(
      fc.property(fc.array(burst, { maxLength: 30 }), (bursts) => {
        const fifo = new Fifo<number>();
        // The model: the numbers from `first` up to `next` are queued.
        let first = 0;
        let next = 0;
        for (const [isPush, n] of bursts) {
          const shifted: (number | undefined)[] = [];
          const expected: (number | undefined)[] = [];
          for (let i = 0; i < n; i++) {
            if (isPush) fifo.push(next++);
            else {
              shifted.push(fifo.shift());
              expected.push(first < next ? first++ : undefined);
            }
          }
          expect(shifted).toEqual(expected);
          expect(fifo.size).toBe(next - first);
          expect(fifo.peek()).toBe(first < next ? first : undefined);
        }
        expect([...fifo]).toEqual(Array.from({ length: next - first }, (_, i) => first + i));
      }),
      { numRuns: 100 },
    );
  });

  it("gives a burst's room back once most of it is taken, though the queue never empties", () => {
    const fifo = new Fifo<number>();
    for (let i = 0; i < 100_000; i++) fifo.push(i);
    for (let i = 0; i < 99_500; i++) fifo.shift();
    for (let i = 0; i < 10_000; i++) fifo.push(fifo.shift()!);
    expect(fifo.size).toBe(500);
    expect((fifo as unknown as { items: unknown[] }).items.length).toBeLessThan(2_048);
  });
});

describe("MemoryStore run times", () => {
  it("keeps every time exactly: near created_at, weeks away, before it, and between milliseconds", async () => {
    let now = Date.UTC(2026, 10, 28, 12);
    const store = new MemoryStore({ clock: { now: () => now, sleep: async () => {} } });
    const pipeline = await store.createPipeline(seedPipeline);
    const run = (await store.triggerRun(pipeline.id, "main"))!;
    const created = now;
    now += 30 * 86_400_000 + 0.25; // 30 days: past what an offset of 32 bits holds; and a fraction
    const claim = store.immediate.claimRun("w")!;
    const started = now;
    now = created + 1234;
    store.immediate.stageSucceeded(claim, 0, { lines: [], count: 0 }, true);
    const secondStarted = now;
    now = created - 5; // a clock set back
    store.immediate.finishRun(claim, "success", null, 1, { lines: [], count: 0 });
    const read = (await store.getRun(run.id))!;
    expect(read).toMatchObject({ created_at: iso(created), started_at: iso(started), finished_at: iso(now), updated_at: iso(now) });
    expect(read.stages.map((s) => [s.started_at, s.finished_at])).toEqual([
      [iso(started), iso(secondStarted)],
      [iso(secondStarted), iso(now)],
      [null, null],
    ]);
  });
});

describe("MemoryStore run ids", () => {
  it("finds every run by id across pages of rows, with ids made in place, and no run by a malformed or unknown id", async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    const pipeline = await store.createPipeline(runOnly("p"));
    const runs = [];
    for (let i = 0; i < 2100; i++) runs.push((await store.triggerRun(pipeline.id, `ref-${i}`))!);
    expect(new Set(runs.map((r) => r.id)).size).toBe(2100);
    for (const i of [0, 1, 1023, 1024, 2047, 2048, 2099]) expect((await store.getRun(runs[i]!.id))?.git_ref).toBe(`ref-${i}`);
    const claim = (await store.claimRun("w"))!;
    expect(claim.run).toEqual({ id: runs[0]!.id, pipeline_id: pipeline.id, git_ref: "ref-0" });
    for (const id of [runs[5]!.id.toUpperCase(), runs[5]!.id.slice(0, 35), "", "not an id", randomId()]) expect(await store.getRun(id)).toBeUndefined();
  });

  it("finds runs whose ids stop coming in order after many did, and those after", async () => {
    let n = 0;
    // In order up to 1500, then one below them all, then in order again, then one in between.
    const next = () => (++n === 1501 ? uuidFor(0) : n === 1700 ? uuidFor(700.5 * 2) : uuidFor(n * 2));
    const store = new MemoryStore({ clock: new ManualClock(), ids: next });
    const pipeline = await store.createPipeline(runOnly("p"));
    const runs = [];
    for (let i = 0; i < 1800; i++) runs.push((await store.triggerRun(pipeline.id, `ref-${i}`))!);
    for (let i = 0; i < runs.length; i++) expect((await store.getRun(runs[i]!.id))?.git_ref, runs[i]!.id).toBe(`ref-${i}`);
    expect(await store.getRun(uuidFor(3))).toBeUndefined();
  });

  it("gives each claim its own run's id: in trigger order, a handed-back run first again, none for cancelled ones", async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    const [a, b] = [await store.createPipeline(runOnly("a")), await store.createPipeline(runOnly("b"))];
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push((await store.triggerRun(i === 3 ? b.id : a.id, `ref-${i}`))!);
    const first = (await store.claimRun("w"))!;
    expect(first.run).toEqual({ id: runs[0]!.id, pipeline_id: a.id, git_ref: "ref-0" });
    await store.releaseRun(first, "shutting down");
    const again = (await store.claimRun("w"))!;
    expect(again.run.id).toBe(runs[0]!.id);
    expect((await store.claimRun("w"))!.run.id).toBe(runs[3]!.id);
    await store.finishRun(again, "success", null);
    const next = (await store.claimRun("w"))!;
    expect(next.run).toEqual({ id: runs[1]!.id, pipeline_id: a.id, git_ref: "ref-1" });
    const later = (await store.triggerRun(a.id, "ref-4"))!;
    expect((await store.cancelQueued("stopping")).map((r) => r.id)).toEqual([runs[2]!.id, later.id]);
    await store.finishRun(next, "success", null);
    expect(await store.claimRun("w")).toBeUndefined();
    const after = (await store.triggerRun(a.id, "ref-5"))!;
    expect((await store.claimRun("w"))!.run.id).toBe(after.id);
  });

  it("claims the worker's next run with a run's end, and tells listeners only of runs it left claimable", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const [a, b] = [await store.createPipeline(runOnly("a")), await store.createPipeline(runOnly("b"))];
    let told = 0;
    store.onClaimable(() => told++);
    const a1 = (await store.triggerRun(a.id, "a1"))!;
    const a2 = (await store.triggerRun(a.id, "a2"))!;
    expect(told).toBe(1);
    const first = store.immediate.claimRun("w1")!;
    // The end readies a2 and the same worker takes it: nobody else is told.
    clock.advance(5);
    const second = store.immediate.finishRun(first, "success", null, 0, { lines: ["done"], count: 1 }, "w1")!;
    expect([second.run.id, second.workerId, told]).toEqual([a2.id, "w1", 1]);
    expect((await store.getRun(a1.id))!.finished_at).toBe((await store.getRun(a2.id))!.started_at);
    // b1 waits (told); a3 is readied by a2's end, but the worker takes the older b1: a3 is announced.
    // (And when the worker takes the run its end readied, an older one still waiting is not announced
    // again: see the next test.)
    const b1 = (await store.triggerRun(b.id, "b1"))!;
    const a3 = (await store.triggerRun(a.id, "a3"))!;
    expect(told).toBe(2);
    expect(store.immediate.finishRun(second, "failed", "exit 1", 0, { lines: [], count: 0 }, "w1")!.run.id).toBe(b1.id);
    expect(told).toBe(3);
    // Without a worker id nothing is claimed, and the listeners are told as before.
    const third = store.immediate.claimRun("w2")!;
    expect(third.run.id).toBe(a3.id);
    const a4 = (await store.triggerRun(a.id, "a4"))!;
    expect(store.immediate.finishRun(third, "success", null, 0, { lines: [], count: 0 })).toBeUndefined();
    expect(told).toBe(4);
    expect((await store.getRun(a4.id))!.status).toBe("queued");
  });

  it("does not announce again, when the worker takes the run its end readied, another one already announced", async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    const [a, b] = [await store.createPipeline(runOnly("a")), await store.createPipeline(runOnly("b"))];
    let told = 0;
    store.onClaimable(() => told++);
    await store.triggerRun(a.id, "a1");
    const a2 = (await store.triggerRun(a.id, "a2"))!;
    const first = store.immediate.claimRun("w1")!;
    const b1 = (await store.triggerRun(b.id, "b1"))!;
    expect(told).toBe(2);
    // a2 (older than b1) is readied and taken by the same worker; b1 was announced when it came.
    expect(store.immediate.finishRun(first, "success", null, 0, { lines: [], count: 0 }, "w1")!.run.id).toBe(a2.id);
    expect(told).toBe(2);
    expect(store.immediate.claimRun("w2")!.run.id).toBe(b1.id);
  });

  it("refuses a run id that is not a UUID, and keeps nothing of the trigger", async () => {
    const ids = [uuidFor(1), "run-2"];
    const store = new MemoryStore({ clock: new ManualClock(), ids: () => ids.shift()! });
    const pipeline = await store.createPipeline(runOnly("p"));
    await expect(store.triggerRun(pipeline.id, "main")).rejects.toThrow(TypeError);
    expect((await store.listRuns({ limit: 10 })).items).toEqual([]);
    expect(await store.claimRun("w")).toBeUndefined();
  });
});
