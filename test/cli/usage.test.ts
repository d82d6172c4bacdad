/**
 * What the CLI does before or without a server: help at every level, the version, usage errors (exit 2)
 * and a server that is not there (exit 3). All one line on stderr, never a stack trace.
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };
import { cli } from "./harness.ts";

/** A port where nothing listens: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const noStack = /\n\s+at /;

describe.concurrent("stagerunner client without a server", { timeout: 30_000 }, () => {
  it.each([
    [["-h"], /Usage: stagerunner \[options\] \[command\]/],
    [["client", "-h"], /Usage: stagerunner client \[options\] \[command\][\s\S]*--url <url>[\s\S]*STAGERUNNER_URL[\s\S]*trigger/],
    [["client", "trigger", "-h"], /Usage: stagerunner client trigger \[options\] <pipeline> \[git_ref\][\s\S]*--wait[\s\S]*--retry-s <seconds>/],
    [["client", "logs", "-h"], /Usage: stagerunner client logs \[options\] <run>[\s\S]*-f, --follow/],
    [["--version"], new RegExp(`^${pkg.version.replaceAll(".", "\\.")}\n$`)],
  ])("%j prints its text and exits 0", async (args, usage) => {
    const result = await cli(args);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(usage);
  });

  it.each([
    [["client", "launch"], /^error: unknown command 'launch'/],
    [["client", "get-run"], /^error: missing required argument 'run'/],
    [["client", "logs", "r1", "--retry-s", "soon"], /^error: option '--retry-s <seconds>' argument 'soon' is invalid/],
    [["client", "create", "{name: 1}"], /^error: the JSON argument is not valid JSON: /],
    [["client", "trigger", "p", "--env", "DEPLOY_ENV"], /^error: option '--env <NAME=value>' argument 'DEPLOY_ENV' is invalid\. expected NAME=value/],
    [["client", "trigger", "p", "--env", "=staging"], /^error: option '--env <NAME=value>' argument '=staging' is invalid\. expected NAME=value/],
    [["client", "--url", "ftp://example.com", "list"], /^error: --url: not an http\(s\) URL: ftp:\/\/example\.com/],
  ])("%j is a usage error: exit 2", async (args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(noStack);
  });

  it("says in one line that the server cannot be reached, exit 3", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/prod`;
    const result = await cli(["client", "--url", url, "list"], { env: { STAGERUNNER_TOKEN: "t" } });
    expect(result).toMatchObject({ code: 3, stdout: "" });
    expect(result.stderr).toBe(`error: cannot reach Stagerunner at ${url}: ECONNREFUSED\n`);
  });

  it("worker --help shows only what applies to a worker; no help shows an empty default", async () => {
    const [worker, server] = await Promise.all([cli(["worker", "--help"]), cli(["server", "--help"])]);
    expect(worker).toMatchObject({ code: 0, stderr: "" });
    const help = worker.stdout.replace(/\s+/g, " ");
    expect(help).toContain("--store <value> the PostgreSQL database the API uses: a postgres:// URL (required) [env STAGERUNNER_STORE or DATABASE_URL]");
    expect(help).toContain("before they are handed back to the queue");
    expect(help).not.toMatch(/API only|default memory|in memory|default \]|before they are cancelled/);
    expect(server.stdout.replace(/\s+/g, " ")).toContain("[env STAGERUNNER_FROM]");
    expect(server.stdout).not.toMatch(/default \]/);
  });
});
