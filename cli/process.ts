/**
 * What the long-running commands (server, worker) share: timestamped log lines, and SIGINT/SIGTERM
 * handling that shuts down once, gracefully, and exits at once on a second signal.
 */
import { stripVTControlCharacters } from "node:util";

/**
 * A line as the operator's terminal may show it: stage output goes here too, so its escape sequences
 * are dropped and other control characters (a carriage return, a bell, C1's) shown as `\xNN`; tabs stay.
 * The run's log in the store keeps them all.
 */
export const printable = (line: string): string =>
  stripVTControlCharacters(line).replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** A progress line with an ISO timestamp, on stdout. */
export const stamp = (line: string): void => console.log(`${new Date().toISOString()} ${printable(line)}`);

/** Runs `shutdown` on the first SIGINT/SIGTERM, then exits 0; a second signal exits 130 at once. */
export function onShutdownSignal(shutdown: (signal: string) => Promise<void>): void {
  let signals = 0;
  const handle = async (signal: string) => {
    if (++signals > 1) {
      stamp(`${signal} again: exiting now`);
      process.exit(130);
    }
    try {
      await shutdown(signal);
      process.exit(0);
    } catch (error) {
      stamp(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    }
  };
  process.on("SIGINT", (signal) => void handle(signal));
  process.on("SIGTERM", (signal) => void handle(signal));
}
