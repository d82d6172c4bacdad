/**
 * A StageRunner on an injected clock whose run stages say what to do: `sleep 250` takes 250 ms,
 * a command containing `fail` fails after its sleep. Build and deploy stages take `defaultMs`.
 * Every call is recorded with its abort signal.
 */
import type { Clock } from "../../lib/clock.ts";
import type { StageSpec } from "../../lib/store/stages.ts";
import type { StageRunner } from "../../lib/worker/stageRunner.ts";

export interface SleepRunner extends StageRunner {
  readonly calls: { stage: StageSpec; signal: AbortSignal }[];
}

export function sleepRunner(clock: Clock, defaultMs = 100): SleepRunner {
  const calls: { stage: StageSpec; signal: AbortSignal }[] = [];
  return {
    calls,
    async run(stage, ctx) {
      calls.push({ stage, signal: ctx.signal });
      const command = stage.kind === "run" ? stage.command : "";
      const ms = Number(/sleep (\d+)/.exec(command)?.[1] ?? defaultMs);
      ctx.log(`sleeping ${ms} ms`);
      await clock.sleep(ms, ctx.signal);
      if (command.includes("fail")) throw new Error(`${command}: exit status 1`);
      ctx.log("done");
    },
  };
}
