/**
 * The run-control bench's stage runner: `ticks N every M` logs N lines M ms apart, each carrying the
 * wall time it was logged at (epoch ms with microseconds, comparable across processes on one machine);
 * any other command waits until it is cancelled.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { StageRunner } from "../lib/worker/stageRunner.ts";

export const epochNow = (): number => performance.timeOrigin + performance.now();

export const tickRunner: StageRunner = {
  async run(stage, ctx) {
    const ticks = stage.kind === "run" ? /^ticks (\d+) every (\d+)$/.exec(stage.command) : null;
    if (!ticks) return void (await sleep(3_600_000, undefined, { signal: ctx.signal }));
    for (let i = 0; i < Number(ticks[1]); i++) {
      await sleep(Number(ticks[2]), undefined, { signal: ctx.signal });
      ctx.log(`tick ${epochNow()}`);
    }
  },
};
