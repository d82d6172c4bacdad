/**
 * `stagerunner server` as a real process: start-up errors are one line, a generated token is printed
 * and works, SIGTERM shuts down cleanly with exit 0.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const bin = new URL("../../cli/bin.mjs", import.meta.url).pathname;
const run = promisify(execFile);

async function fails(args: string[], env: Record<string, string> = {}) {
  const result = await run(process.execPath, [bin, "server", ...args], { env: { ...process.env, ...env } }).then(
    () => ({ code: 0, stderr: "" }),
    (error: { code: number; stderr: string }) => error,
  );
  return result;
}

describe.concurrent("stagerunner server start-up", { timeout: 30_000 }, () => {
  it.each([
    [["--port", "abc"], {}, /--port: must be a whole number from 0 to 65535 \(got "abc"\)/],
    [["--port", "70000"], {}, /--port: must be at most 65535/],
    [[], { STAGERUNNER_WORKERS: "-1" }, /STAGERUNNER_WORKERS: must be a whole number/],
    [[], { STAGERUNNER_FAILURE_PROBABILITY: "1.5" }, /STAGERUNNER_FAILURE_PROBABILITY: must be a number from 0 to 1/],
    [["--stage-duration-ms", "fast"], {}, /--stage-duration-ms/],
    [["--colour", "red"], {}, /unknown option '--colour'/],
    [["--store", "mysql://root:hunter2@db/x"], {}, /^stagerunner: --store: must be "memory" or a postgres:\/\/ connection URL \(got "mysql:\/\/root:\*\*\*@db\/x"\)\n$/],
    [["--executor", "shell", "--allow-root", "--build-command", "docker build {dir}"], {}, /^stagerunner: --build-command: unknown placeholder \{dir\} \(use .*\)\n$/],
    [["--executor", "shell", "--allow-root", "--secrets-file", "/nonexistent/secrets.env"], {}, /^stagerunner: --secrets-file: cannot read \/nonexistent\/secrets\.env \(ENOENT\)\n$/],
    [["--store", "postgres://u:secret@127.0.0.1:1/x"], {}, /^stagerunner: cannot reach postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: connect ECONNREFUSED/],
  ])("refuses %j %j with one clear line and exit 2", async (args, env, message) => {
    const { code, stderr } = await fails(args as string[], env as Record<string, string>);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("refuses a port that is taken with one line", async () => {
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = String((blocker.address() as { port: number }).port);
    const { code, stderr } = await fails(["--port", port]);
    blocker.close();
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(`stagerunner: cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
  });

  it("generates and prints a token when none is set, and exits 0 on SIGTERM", async () => {
    const env = { ...process.env, STAGERUNNER_TOKEN: "" };
    const child = spawn(process.execPath, [bin, "server", "--port", "0", "--workers", "1"], { env });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    while (!/Try: .*--token (\S+) list/.test(out)) await once(child.stdout, "data");
    const url = /listening on (\S+)/.exec(out)![1]!;
    const token = /--token (\S+) list/.exec(out)![1]!;
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect((await fetch(`${url}/pipelines`, { headers: { authorization: token } })).status).toBe(200);
    expect((await fetch(`${url}/pipelines`)).status).toBe(401);
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(out).toMatch(/SIGTERM: no longer accepting requests/);
    expect(out).toMatch(/stopped/);
  });
});
