/**
 * What a followed run prints as its log lines come: the lines, and each stage's status changes in the
 * order they happened (a stage's `running` before its first line, its end after its last).
 */
import type { StageKind } from "../../lib/api/order.ts";
import type { LogLine, Run, StageStatus } from "../../lib/api/schemas.ts";
import { stageProgress } from "./format.ts";

/** Receives a followed run's lines, page by page, and the run's state once it has finished. */
export interface RunView {
  /** Whether `lines` need the run's current state to be shown (the follower then fetches it). */
  needsRun(lines: LogLine[]): boolean;
  /** `run` is the state fetched after `lines`, or the last one known when `needsRun` said no. */
  lines(lines: LogLine[], run: Run): void;
  /** The run has finished and every line has been shown. */
  end(run: Run): void;
}

/** The human view: stage status lines, log lines indented under them. */
export class StageProgress implements RunView {
  private readonly shown = new Map<StageKind, StageStatus>();

  constructor(private readonly print: (line: string) => void) {}

  needsRun(lines: LogLine[]): boolean {
    return lines.some((line) => !this.shown.has(line.stage));
  }

  lines(lines: LogLine[], run: Run): void {
    for (const line of lines) {
      this.enter(line.stage, run);
      this.print(`      ${line.text}`);
    }
  }

  end(run: Run): void {
    for (const stage of run.stages) this.show(stage);
  }

  /**
   * Before a stage's first line: the end of the stages before it (they have finished, since stages run
   * one after the other and `run` was fetched after the line), then the stage as running. A stage's end
   * waits for a later stage's line or the run's end, so that it never comes before its own last line.
   */
  private enter(kind: StageKind, run: Run): void {
    for (const stage of run.stages) {
      if (stage.name !== kind) {
        this.show(stage);
        continue;
      }
      if (!this.shown.has(kind)) {
        this.print(stageProgress({ ...stage, status: "running", finished_at: null }));
        this.shown.set(kind, "running");
      }
      return;
    }
  }

  private show(stage: Run["stages"][number]): void {
    if (stage.status === "pending" || this.shown.get(stage.name) === stage.status) return;
    this.print(stageProgress(stage));
    this.shown.set(stage.name, stage.status);
  }
}

/** `logs --json`: one JSON object a line, as the API gives it, so that a script can read the stream. */
export class JsonLines implements RunView {
  constructor(private readonly print: (line: string) => void) {}
  needsRun(): boolean {
    return false;
  }
  lines(lines: LogLine[]): void {
    for (const line of lines) this.print(JSON.stringify(line));
  }
  end(): void {}
}

/** `get-run --wait`: nothing until the end. */
export const quiet: RunView = { needsRun: () => false, lines: () => {}, end: () => {} };
