/**
 * What the long-running commands (server, worker) share: timestamped log lines, and SIGINT/SIGTERM
 * handling that shuts down once, gracefully, and exits at once on a second signal.
 */

/** A progress line with an ISO timestamp, on stdout. */
export const stamp = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

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
