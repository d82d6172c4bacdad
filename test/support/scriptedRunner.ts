/**
 * A StageRunner the test drives by hand: every stage it is asked to run waits until the test
 * calls `succeed()` or `fail()` on it, or until the worker aborts it.
 */
import type { StageSpec } from "../../lib/store/stages.ts";
import type { StageContext, StageRunner } from "../../lib/worker/stageRunner.ts";

export interface StageCall {
  stage: StageSpec;
  signal: AbortSignal;
  log(line: string): void;
  /** "running" until the test or an abort ends it. */
  state: "running" | "succeeded" | "failed" | "aborted";
  succeed(): void;
  fail(message: string): void;
}

export class ScriptedRunner implements StageRunner {
  /** Every stage call, in the order the pool made them. */
  readonly calls: StageCall[] = [];
  /** Called when a stage is aborted, before it rejects (a runner's last words go here). */
  onAbort: ((call: StageCall) => void) | undefined;

  run(stage: StageSpec, ctx: StageContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const end = (state: StageCall["state"]) => {
        if (call.state !== "running") throw new Error(`stage call already ${call.state}`);
        call.state = state;
        // A well-behaved runner stops listening once its stage is over.
        ctx.signal.removeEventListener("abort", onAbort);
      };
      const call: StageCall = {
        stage,
        signal: ctx.signal,
        log: ctx.log,
        state: "running",
        succeed: () => {
          end("succeeded");
          resolve();
        },
        fail: (message) => {
          end("failed");
          reject(new Error(message));
        },
      };
      const onAbort = () => {
        if (call.state !== "running") return;
        call.state = "aborted";
        this.onAbort?.(call);
        reject(ctx.signal.reason);
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.calls.push(call);
    });
  }

  /** Stage calls not yet ended. */
  get running(): StageCall[] {
    return this.calls.filter((c) => c.state === "running");
  }
}

/** The command of a run stage (the tests name pipelines through it); undefined for other stages. */
export const commandOf = (stage: StageSpec): string | undefined => (stage.kind === "run" ? stage.command : undefined);
