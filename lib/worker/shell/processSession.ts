/**
 * Runs one command in a session of its own, its stdout and stderr read line by line as they come.
 * Stopping it (an abort: cancel, timeout, shutdown) sends SIGTERM to every process of the session,
 * then SIGKILL after the grace period; whatever the command left running is killed when it exits. A
 * watchdog (below) does the same if this process dies first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { LineSplitter } from "./lineSplitter.ts";

export interface ProcessOptions {
  cwd: string;
  env: Record<string, string>;
  /** Aborted to stop the command and everything it started. */
  signal: AbortSignal;
  /** How long the processes have between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Each line of stdout and stderr. */
  onLine: (line: string) => void;
}

/** How the command ended: its exit status, or the signal that killed it. */
export type ExitStatus = { code: number; signal: null } | { code: null; signal: NodeJS.Signals };

/** "exit status 3", "killed by signal SIGTERM". */
export const describeExit = (status: ExitStatus): string => (status.signal ? `killed by signal ${status.signal}` : `exit status ${status.code}`);

/** The command could not be started (not on PATH, not executable). */
export class SpawnError extends Error {
  constructor(command: string, code: string | undefined, cwd: string) {
    const why =
      code === "ENOENT" ? (existsSync(cwd) ? "not found on PATH" : `the workspace ${cwd} is gone`) : code === "EACCES" ? "permission denied" : `cannot start (${code})`;
    super(`${command}: ${why}`);
    this.name = "SpawnError";
  }
}

/** How long output still in the pipes may take to be read once the command has exited. */
const DRAIN_MS = 1000;

export async function runInSession(argv: readonly string[], opts: ProcessOptions): Promise<ExitStatus> {
  const [command, ...args] = argv as [string, ...string[]];
  // The watchdog first, then the session's id written to it in the same tick the command starts in (a
  // write to a pipe is immediate): this process dying leaves the session unwatched only within these lines.
  const watchdog = startWatchdog();
  // detached: a session (and process group) of its own, so that the command's processes can be found
  // and stopped together, and a Ctrl-C meant for the server does not reach them (it stops them in order).
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid !== undefined) watchdog.watch(child.pid);
  try {
    await once(child, "spawn");
  } catch (error) {
    watchdog.disarm();
    throw new SpawnError(command, (error as NodeJS.ErrnoException).code, opts.cwd);
  }
  const session = child.pid!;
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const closed = Promise.all([readLines(child.stdout!, opts.onLine), readLines(child.stderr!, opts.onLine)]);

  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    void signalSession(session, "SIGTERM");
    killTimer = setTimeout(() => void signalSession(session, "SIGKILL"), opts.killGraceMs);
  };
  if (opts.signal.aborted) stop();
  else opts.signal.addEventListener("abort", stop, { once: true });
  try {
    const [code, signal] = await exited;
    // What the command left running goes with it (and lets go of the pipes), while the output drains.
    const drained = Promise.race([closed, new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
    await Promise.all([signalSession(session, "SIGKILL"), drained]);
    child.stdout!.destroy();
    child.stderr!.destroy();
    return signal ? { code: null, signal } : { code: code ?? 0, signal: null };
  } finally {
    clearTimeout(killTimer);
    opts.signal.removeEventListener("abort", stop);
    watchdog.disarm();
  }
}

/** Feeds a stream's output to `onLine` line by line; resolves when the stream has ended or was destroyed. */
function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  const lines = new LineSplitter(onLine);
  stream.on("data", (chunk: Buffer) => lines.write(chunk));
  return new Promise((resolve) =>
    stream.once("close", () => {
      lines.end();
      resolve();
    }),
  );
}

/**
 * Signals the session's process group, then every other process of the session: one that moved to a
 * group of its own (GNU `timeout` does, and `set -m`) stays in the session, which /proc tells on Linux.
 * Only a process that starts a session of its own (setsid) leaves it.
 */
async function signalSession(session: number, signal: NodeJS.Signals): Promise<void> {
  signalProcess(-session, signal);
  for (const pid of await sessionMembers(session)) signalProcess(pid, signal);
}

async function sessionMembers(session: number): Promise<number[]> {
  const names = await readdir("/proc").catch(() => [] as string[]);
  const members = await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map((name) =>
        readFile(`/proc/${name}/stat`, "utf8").then(
          // pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses, so count from the last ")".
          (stat) => (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]) === session ? Number(name) : 0),
          () => 0,
        ),
      ),
  );
  return members.filter((pid) => pid > 0);
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: gone already.
  }
}

/**
 * A small shell that kills the session when this process dies, however it dies (kill -9 included): it
 * reads the session's id, then waits on the pipe from this process, whose end the kernel closes when
 * this process exits. A second line disarms it. A session of its own, so that signals for the server's
 * terminal do not reach it. (A parent-death signal, setpriv --pdeathsig, reaches only a direct child.)
 */
const WATCHDOG = 'read -r id || exit 0; read -r _ || { kill -s KILL -- "-$id"; pkill -KILL -s "$id"; } 2>/dev/null';

function startWatchdog(): { watch(session: number): void; disarm(): void } {
  const watchdog: ChildProcess = spawn("/bin/sh", ["-c", WATCHDOG], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  // Without /bin/sh no stage could run either; a watchdog that cannot start (EAGAIN) leaves the stage unwatched.
  watchdog.on("error", () => {});
  watchdog.stdin!.on("error", () => {});
  return {
    watch: (session) => watchdog.stdin!.write(`${session}\n`),
    disarm: () => watchdog.stdin!.end("disarm\n"),
  };
}
