/**
 * The emulator with `--executor shell`, in memory and on PostgreSQL: a pipeline whose repository is a
 * real git repository runs its `./test.sh` at a ref, its output is the run's log, a failing command
 * fails the run with its exit status, and cancel and timeouts leave no process behind.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LogsPage, Run } from "../../lib/api/schemas.ts";
import { loadServerConfig } from "../../lib/config/serverSettings.ts";
import { startServer, type RunningServer } from "../../local/server.ts";
import { makeRepository, type TestRepository } from "../support/gitRepository.ts";
import { ManualClock } from "../support/manualClock.ts";
import { adminQuery, pgTestUrl } from "../support/pgTestDatabase.ts";
import { allGone, pidsIn } from "../support/processes.ts";
import { until } from "../support/waitFor.ts";

const root = mkdtempSync(join(tmpdir(), "sr-shell-e2e-"));
let repo: TestRepository;
let pgUrl: string | undefined;
let pgName: string | undefined;

beforeAll(async () => {
  repo = makeRepository(join(root, "repo"));
  if (pgTestUrl) {
    pgName = `sr_shell_${randomBytes(4).toString("hex")}`;
    await adminQuery(`CREATE DATABASE ${pgName}`);
    const url = new URL(pgTestUrl);
    url.pathname = `/${pgName}`;
    pgUrl = url.toString();
  }
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  if (pgName) await adminQuery(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
});

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close(0);
  server = undefined;
});

const stores = [{ name: "memory", store: "memory" }, ...(pgTestUrl ? [{ name: "PostgreSQL", store: "" }] : [])];

async function start(store: string, clock?: ManualClock): Promise<RunningServer> {
  const flags = {
    port: "0",
    token: "t",
    workers: "2",
    store: store || pgUrl!,
    executor: "shell",
    allowRoot: true,
    workspaceDir: join(root, "workspaces"),
    killGraceMs: "300",
  };
  server = await startServer(loadServerConfig(flags, {}), clock ? { clock } : {});
  return server;
}

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(server!.url + path, { method, headers: { authorization: "t" }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function trigger(command: string, extra: { git_ref?: string; env?: Record<string, string>; timeout_seconds?: number } = {}): Promise<Run> {
  const { timeout_seconds, ...body } = extra;
  const run_stage = { command, ...(timeout_seconds ? { timeout_seconds } : {}) };
  const pipeline = await call("POST", "/pipelines", { name: "shell e2e", repository: repo.path, stages: { run_stage } });
  expect(pipeline.status).toBe(201);
  const run = await call("POST", `/pipelines/${pipeline.body.id}/trigger`, body);
  expect(run.status).toBe(202);
  return Run.parse(run.body);
}

/** The run once it has ended (GET polls: the manual clock of the timeout test would hold a long-poll). */
async function ended(id: string): Promise<Run> {
  let run: Run | undefined;
  await until(async () => {
    run = Run.parse((await call("GET", `/runs/${id}`)).body);
    return ["success", "failed", "cancelled"].includes(run.status);
  }, 20_000);
  return run!;
}

const logTexts = async (id: string): Promise<string[]> => LogsPage.parse((await call("GET", `/runs/${id}/logs`)).body).lines.map((l) => l.text);

describe.each(stores)("shell executor through the API ($name)", ({ store }) => {
  it("checks out the ref and runs ./test.sh; its output is the log, followed live", async () => {
    await start(store);
    const run = await trigger("./test.sh && echo \"GREETING=$GREETING\"", { git_ref: "v1", env: { GREETING: "hello" } });
    const done = await ended(run.id);
    expect(done).toMatchObject({ status: "success", error: null, env: { GREETING: "hello" } });
    const lines = await logTexts(run.id);
    expect(lines).toContain("test.sh at first");
    expect(lines).toContain("GREETING=hello");
    expect(lines.some((line) => line.startsWith(`checked out ${repo.commits.first}`))).toBe(true);
  });

  it("fails the run with the command's exit status", async () => {
    await start(store);
    const run = await trigger("echo about to fail >&2; exit 7");
    const done = await ended(run.id);
    expect(done).toMatchObject({ status: "failed", error: "run stage failed: exit status 7" });
    expect(done.stages[0]!.logs).toContain("about to fail");
  });

  it("cancel stops the stage's process tree, a background grandchild included", async () => {
    await start(store);
    const pids = join(root, `cancel-${store || "pg"}.pids`);
    const run = await trigger(`echo $$ > ${pids}; sleep 60 & echo $! >> ${pids}; sleep 60`);
    await until(async () => existsSync(pids) && pidsIn(pids).length === 2, 20_000);
    expect((await call("POST", `/runs/${run.id}/cancel`, { reason: "enough" })).status).toBe(202);
    expect(await ended(run.id)).toMatchObject({ status: "cancelled" });
    await allGone(pidsIn(pids));
  });
});

describe("shell executor in memory: timeouts and long output", () => {
  it("a stage past its timeout_seconds is stopped, its process tree with it, and the run fails", async () => {
    const clock = new ManualClock();
    await start("memory", clock);
    const pids = join(root, "timeout.pids");
    const run = await trigger(`echo $$ > ${pids}; sleep 60 & echo $! >> ${pids}; sleep 60`, { timeout_seconds: 30 });
    await until(async () => existsSync(pids) && pidsIn(pids).length === 2, 20_000);
    clock.advance(30_000);
    expect(await ended(run.id)).toMatchObject({ status: "failed", error: "run stage timed out after 30 s" });
    await allGone(pidsIn(pids));
  });

  it("keeps a 100,000-line output as the store caps it: the first lines, a marker, the latest", async () => {
    await start("memory");
    const run = await trigger("seq 100000");
    const done = await ended(run.id);
    expect(done.status).toBe("success");
    const logs = done.stages[0]!.logs;
    expect(logs).toHaveLength(10_000);
    expect(logs).toContain("1");
    expect(logs.at(-1)).toBe("100000");
    expect(logs.some((line) => /^\[\.\.\. \d+ lines dropped \.\.\.\]$/.test(line))).toBe(true);
  });
});
