/**
 * A stage's command as a real process group: its output line by line, its exit status, and stopping
 * it for real, the whole tree, also when the worker itself is killed with SIGKILL.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runInSession, type ProcessOptions } from "../../../../lib/worker/shell/processSession.ts";
import { allGone, isRunning, pidsIn } from "../../../support/processes.ts";
import { until } from "../../../support/waitFor.ts";

const dir = mkdtempSync(join(tmpdir(), "sr-process-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string, opts: Partial<ProcessOptions> = {}) {
  const lines: string[] = [];
  const done = runInSession(["/bin/sh", "-c", script], {
    cwd: dir,
    env: { PATH: process.env.PATH! },
    signal: new AbortController().signal,
    killGraceMs: 200,
    onLine: (line) => lines.push(line),
    ...opts,
  });
  return { lines, done };
}

describe("runInSession", () => {
  it("reports the exit status and every line of stdout and stderr, a partial last line included", async () => {
    const { lines, done } = sh("echo out; echo err >&2; printf 'no newline'; exit 3");
    expect(await done).toEqual({ code: 3, signal: null });
    expect(lines).toContain("out");
    expect(lines).toContain("err");
    expect(lines.at(-1)).toBe("no newline");
  });

  it("reports the signal that killed the command", async () => {
    expect(await sh("kill -s USR1 $$").done).toEqual({ code: null, signal: "SIGUSR1" });
  });

  it("runs in cwd with exactly the environment given", async () => {
    const { lines, done } = sh('pwd; echo "HOME=${HOME-unset} GIVEN=$GIVEN"', { env: { PATH: process.env.PATH!, GIVEN: "yes" } });
    await done;
    expect(lines).toEqual([dir, "HOME=unset GIVEN=yes"]);
  });

  it("says a command that is not on PATH is not found", async () => {
    await expect(runInSession(["no-such-tool-here"], { cwd: dir, env: { PATH: "/nonexistent" }, signal: new AbortController().signal, killGraceMs: 0, onLine: () => {} })).rejects.toThrow(
      "no-such-tool-here: not found on PATH",
    );
  });

  /**
   * Runs `script(pidsFile)`, which writes `count` process ids there, and aborts it once they are all
   * written; resolves to how it ended and those processes.
   */
  const abortOnce = async (name: string, count: number, script: (pids: string) => string, killGraceMs?: number) => {
    const pids = join(dir, `${name}.pids`);
    const abort = new AbortController();
    const { done } = sh(script(pids), { signal: abort.signal, ...(killGraceMs === undefined ? {} : { killGraceMs }) });
    await until(async () => existsSync(pids) && pidsIn(pids).length === count, 5000);
    abort.abort();
    return { end: await done, pids: pidsIn(pids) };
  };

  it("stops the whole group on abort, a background grandchild included", async () => {
    const { end, pids } = await abortOnce("abort", 2, (f) => `echo $$ > ${f}; sleep 60 & echo $! >> ${f}; sleep 60`);
    expect(end).toEqual({ code: null, signal: "SIGTERM" });
    await allGone(pids);
  });

  it("stops a process that moved to a process group of its own (GNU timeout does)", async () => {
    const { pids } = await abortOnce("timeout", 1, (f) => `timeout 60 sh -c 'echo $$ > ${f}; sleep 60' & wait`);
    await allGone(pids);
  });

  it("kills a group that ignores SIGTERM once the grace period is over", async () => {
    const { end, pids } = await abortOnce("stubborn", 2, (f) => `trap '' TERM; echo $$ > ${f}; sleep 60 & echo $! >> ${f}; wait`, 100);
    expect(end).toEqual({ code: null, signal: "SIGKILL" });
    await allGone(pids);
  });

  it("kills what the command left running in the background when it exits", async () => {
    const pids = join(dir, "left.pids");
    const { done } = sh(`sleep 60 & echo $! > ${pids}; echo started`);
    expect(await done).toEqual({ code: 0, signal: null });
    await allGone(pidsIn(pids));
  });

  it("leaves no process behind when the worker process is killed with SIGKILL", { timeout: 30_000 }, async () => {
    const pids = join(dir, "orphan.pids");
    const script = `echo $$ > ${pids}; sleep 60 & echo $! >> ${pids}; sleep 60`;
    const module = new URL("../../../../lib/worker/shell/processSession.ts", import.meta.url).href;
    const worker = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", `import { runInSession } from ${JSON.stringify(module)};
       await runInSession(["/bin/sh", "-c", ${JSON.stringify(script)}], { cwd: ${JSON.stringify(dir)}, env: {}, signal: new AbortController().signal, killGraceMs: 10000, onLine: () => {} });`],
      { stdio: "ignore" },
    );
    await until(async () => existsSync(pids) && pidsIn(pids).length === 2, 10_000);
    expect(pidsIn(pids).every(isRunning)).toBe(true);
    worker.kill("SIGKILL");
    await allGone(pidsIn(pids));
  });
});
