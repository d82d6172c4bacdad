/**
 * Shared by the client tests: the real `stagerunner` binary run as a child process, and the real
 * emulator started in-process with short stages.
 */
import { execFile } from "node:child_process";
import { loadServerConfig, type ServerConfig } from "../../lib/config/serverSettings.ts";
import { startServer, type RunningServer } from "../../local/server.ts";

export const bin = new URL("../../cli/bin.mjs", import.meta.url).pathname;
export const TOKEN = "secret";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without STAGERUNNER_* variables, so that the developer's shell cannot change a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("STAGERUNNER_")));
  return { ...env, ...extra };
}

export interface RunOptions {
  /** Written to the child's stdin, which is closed either way so that nothing waits on it. */
  input?: string;
  env?: Record<string, string>;
}

// Each child loads tsx and the whole CLI (about a second of CPU); more than two at once only makes them
// all slower on a small machine, and starves the other test files running beside these.
const MAX_CHILDREN = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CHILDREN) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Runs `node <nodeArgs>` to its end. */
export function node(nodeArgs: string[], opts: RunOptions = {}): Promise<CliResult> {
  return limited(() => spawnToEnd(nodeArgs, opts));
}

function spawnToEnd(nodeArgs: string[], opts: RunOptions): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, nodeArgs, { env: cleanEnv(opts.env) }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? "");
  });
}

/** Runs `stagerunner <args>`. */
export const cli = (args: string[], opts: RunOptions = {}): Promise<CliResult> => node([bin, ...args], opts);

/** `stagerunner client --url <server> --token secret <args>` */
export function client(server: { url: string }, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return cli(["client", "--url", server.url, "--token", TOKEN, ...args], opts);
}

export function startTestServer(overrides: Partial<Record<keyof ServerConfig, string>> = {}): Promise<RunningServer> {
  return startServer(loadServerConfig({ port: "0", token: TOKEN, stageDurationMs: "20", workers: "2", ...overrides }, {}));
}

/** The id at the end of `Pipeline created. ID: <uuid>` and friends. */
export function lastId(stdout: string): string {
  const match = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*$/.exec(stdout.trim().split("\n")[0]!);
  if (!match) throw new Error(`no id in: ${stdout}`);
  return match[1]!;
}
