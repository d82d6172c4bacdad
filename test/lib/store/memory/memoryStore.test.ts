/**
 * What only the in-memory store does (the Store contract suite covers the rest): it keeps at most
 * `retainRuns` finished runs, dropping the oldest finished first and never a queued or running run.
 */
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../../lib/store/memory/memoryStore.ts";
import { MAX_STAGE_LINES } from "../../../../lib/store/stages.ts";
import { runOnly } from "../../../support/fixtures.ts";

async function finishOne(store: MemoryStore, status: "success" | "failed" = "success") {
  const claim = (await store.claimRun("w"))!;
  return store.finishRun(claim, status, status === "failed" ? "boom" : null);
}

describe("MemoryStore retention", () => {
  it("keeps the newest finished runs, drops the oldest finished first, and never a queued or running one", async () => {
    const store = new MemoryStore({ retainRuns: 3 });
    const a = (await store.createPipeline(runOnly("a"))).id;
    const b = (await store.createPipeline(runOnly("b"))).id;
    const runs: string[] = [];
    runs.push((await store.triggerRun(a, "main"))!.id);
    const onB = (await store.triggerRun(b, "main"))!.id;
    for (let i = 0; i < 3; i++) runs.push((await store.triggerRun(a, "main"))!.id);
    await finishOne(store); // a's first
    const running = (await store.claimRun("w2"))!; // b's, left running
    expect(running.run.id).toBe(onB);
    await finishOne(store, "failed");
    await finishOne(store);
    expect((await store.getRun(runs[0]!))?.status).toBe("success");
    // The fourth finished run drops the first to finish.
    await finishOne(store);
    expect(await store.getRun(runs[0]!)).toBeUndefined();
    for (const id of runs.slice(1)) expect((await store.getRun(id))?.status).toMatch(/success|failed/);
    expect((await store.getRun(onB))?.status).toBe("running");
    const listed = (await store.listRuns({ limit: 100 })).items.map((r) => r.id);
    expect(listed).toEqual([...runs.slice(1).reverse(), onB]);
  });

  it("counts cancelled runs as finished, and lists across dropped runs page by page", async () => {
    const store = new MemoryStore({ retainRuns: 5 });
    const p = (await store.createPipeline(runOnly("p"))).id;
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await store.triggerRun(p, "main"))!.id);
    const cancelled = await store.cancelQueued("shutting down");
    expect(cancelled.map((r) => r.id)).toEqual(ids);
    const pages: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({ limit: 2, cursor });
      pages.push(...page.items.map((r) => r.id));
      cursor = page.next;
    } while (cursor);
    expect(pages).toEqual(ids.slice(-5).reverse());
  });

  it("lists and pages the same as runs are dropped, the list compacted many times over, a long run kept", async () => {
    const store = new MemoryStore({ retainRuns: 7 });
    const p = (await store.createPipeline(runOnly("p"))).id;
    const q = (await store.createPipeline(runOnly("q"))).id;
    const long = (await store.triggerRun(q, "main"))!.id;
    expect((await store.claimRun("long"))!.run.id).toBe(long); // running throughout, the oldest run
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 600; i++) {
      ids.push((await store.triggerRun(p, "main"))!.id);
      await finishOne(store);
      // A cursor from a page read before hundreds of drops still leads to what is left older than it.
      if (i === 300) cursor = (await store.listRuns({ limit: 3 })).next;
    }
    expect((await store.listRuns({ limit: 100 })).items.map((r) => r.id)).toEqual([...ids.slice(-7).reverse(), long]);
    expect((await store.listRuns({ limit: 100, cursor })).items.map((r) => r.id)).toEqual([long]);
    for (const id of ids.slice(0, -7)) expect(await store.getRun(id)).toBeUndefined();
  });

  it("refuses a retention limit that is not a whole number of at least 1", () => {
    for (const retainRuns of [0, -1, 1.5]) expect(() => new MemoryStore({ retainRuns })).toThrow(RangeError);
  });
});

describe("MemoryStore stage logs", () => {
  it("keeps a stage at the line cap: its first lines, how many were dropped, and its latest", async () => {
    const store = new MemoryStore();
    const p = (await store.createPipeline(runOnly("p"))).id;
    const id = (await store.triggerRun(p, "main"))!.id;
    const claim = (await store.claimRun("w"))!;
    const total = MAX_STAGE_LINES + 2_500;
    for (let from = 0; from < total; from += 500) {
      await store.updateStage(claim, 0, { logs: Array.from({ length: 500 }, (_, i) => `line ${from + i}`) });
    }
    const logs = (await store.getRun(id))!.stages[0]!.logs;
    expect(logs).toHaveLength(MAX_STAGE_LINES);
    expect(logs[999]).toBe("line 999");
    expect(logs[1000]).toBe(`[... ${total - MAX_STAGE_LINES + 1} lines dropped ...]`);
    expect(logs[1001]).toBe(`line ${total - (MAX_STAGE_LINES - 1001)}`);
    expect(logs.at(-1)).toBe(`line ${total - 1}`);
  });
});
