/** Real processes in tests: whether one is still there, and waiting for it to be gone. */
import { readFileSync } from "node:fs";
import { until } from "./waitFor.ts";

/** True while `pid` runs (a zombie waiting to be reaped counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Resolves once none of `pids` runs; rejects after `ms`. */
export const allGone = (pids: number[], ms = 5000): Promise<void> => until(async () => pids.every((pid) => !isRunning(pid)), ms);

/** The pids a stage wrote one per line to `file` (its own `$$` and its children's `$!`). */
export const pidsIn = (file: string): number[] => readFileSync(file, "utf8").trim().split("\n").map(Number);
