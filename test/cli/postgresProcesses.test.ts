/**
 * Real processes on one PostgreSQL database: an API process and worker processes share the store and
 * the queue; the invariants hold across them; a worker killed with SIGKILL has its run recovered; a
 * worker stopped with SIGTERM hands its run back and exits 0.
 */
import * as z from "zod/mini";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Run } from "../../lib/api/schemas.ts";
import { adminQuery, PG_SKIP_REASON, pgTestUrl } from "../support/pgTestDatabase.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBundles } from "../../local/build.ts";
import { existsSync } from "node:fs";
import { seedPipeline } from "../support/fixtures.ts";
import { makeRepository } from "../support/gitRepository.ts";
import { allGone, pidsIn } from "../support/processes.ts";
import { bin, cleanEnv, cli, lastId } from "./harness.ts";

const TOKEN = "pg-secret";

interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout, waiting for more output as needed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

const children: ChildProcess[] = [];

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [bin, ...args], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  return {
    child,
    output: () => out,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${out}`);
        if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${pattern}:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

async function api<T = unknown>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: TOKEN },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls until `check` returns a value (each poll is a query, no fixed sleeps). */
async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!pgTestUrl)(`worker processes on PostgreSQL${pgTestUrl ? "" : ` (skipped: ${PG_SKIP_REASON})`}`, { timeout: 120_000 }, () => {
  let dbName: string;
  let db: string;

  beforeAll(async () => {
    dbName = `sr_proc_${randomBytes(4).toString("hex")}`;
    await adminQuery(`CREATE DATABASE ${dbName}`);
    const url = new URL(pgTestUrl!);
    url.pathname = `/${dbName}`;
    db = url.toString();
    const migrate = start(["migrate", "--store", db]);
    await migrate.waitFor(/schema at version \d+/);
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });

  const runsOfDb = async () => adminQueryOn<{ id: string; pipeline_id: string; status: string; error: string | null }>("SELECT id, pipeline_id, status, error FROM runs");
  async function adminQueryOn<R extends object>(sql: string): Promise<R[]> {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      return (await client.query(sql)).rows as R[];
    } finally {
      await client.end();
    }
  }

  it("one API and three worker processes: 50 pipelines x 20 triggers sent at once, no overlap, FIFO, all terminal", async () => {
    // 1000 requests at once queue for the API's 10 connections (the default) and each waits its turn
    // rather than being turned away. The burst takes about 5 s here alone and several times that with
    // the rest of the suite on two shared cores; this test is about order, not latency, so its wait
    // limit is a minute rather than the default 20 s (test/lib/pgStore.test.ts tests the limit itself).
    const apiProc = start(["server", "--store", db, "--workers", "0", "--port", "0", "--token", TOKEN, "--db-pool-wait-ms", "60000"]);
    const base = (await apiProc.waitFor(/listening on (\S+)/))[1]!;
    const workers = [1, 2, 3].map(() => start(["worker", "--store", db, "--workers", "4", "--stage-duration-ms", "1"]));
    await Promise.all(workers.map((w) => w.waitFor(/worker\(s\) on/)));

    const pipelines: string[] = [];
    for (let i = 0; i < 50; i++) {
      const created = await api<{ id: string }>(base, "POST", "/pipelines", { name: `p${i}`, repository: "r", stages: { run_stage: { command: "true" } } });
      pipelines.push(created.body.id);
    }
    const triggered = await Promise.all(
      Array.from({ length: 20 }, (_, round) => pipelines.map((id) => api(base, "POST", `/pipelines/${id}/trigger`, { git_ref: `r${round}` }))).flat(),
    );
    expect(triggered.filter((t) => t.status !== 202)).toEqual([]);

    const runs = await until(
      async () => {
        const all = z.array(Run).parse((await api(base, "GET", "/runs?limit=1000")).body);
        return all.length === 1000 && all.every((r) => ["success", "failed", "cancelled"].includes(r.status)) ? all : undefined;
      },
      90_000,
      "1000 terminal runs",
    );
    expect(runs.filter((r) => r.status !== "success")).toEqual([]);
    // Newest first, by trigger order: reversed, each pipeline's runs in the order they were triggered.
    const byPipeline = new Map<string, Run[]>();
    for (const run of [...runs].reverse()) byPipeline.set(run.pipeline_id, [...(byPipeline.get(run.pipeline_id) ?? []), run]);
    for (const history of byPipeline.values()) {
      expect(history).toHaveLength(20);
      for (let i = 1; i < history.length; i++) {
        const [before, after] = [history[i - 1]!, history[i]!];
        // No overlap, and started in trigger order.
        expect(after.started_at! >= before.finished_at!, `${after.id} started before ${before.id} finished`).toBe(true);
      }
    }
    apiProc.child.kill("SIGTERM");
    for (const w of workers) w.child.kill("SIGTERM");
    const codes = await Promise.all([apiProc, ...workers].map(async (p) => (p.child.exitCode ?? (await once(p.child, "exit"))[0]) as number));
    expect(codes).toEqual([0, 0, 0, 0]);
  });

  it("the seed walk-through through the CLI against the built bundles, served under /prod", async () => {
    const dist = await mkdtemp(join(tmpdir(), "stagerunner-dist-"));
    try {
      await buildBundles(dist);
      const server = start(["server", "--from", dist, "--base-path", "/prod", "--store", db, "--port", "0", "--token", TOKEN, "--workers", "1", "--stage-duration-ms", "5"]);
      const url = (await server.waitFor(/listening on (\S+)/))[1]!;
      expect(url).toMatch(/\/prod$/);
      const client = (...args: string[]) => cli(["client", "--url", url, "--token", TOKEN, ...args]);
      const created = await client("create", JSON.stringify(seedPipeline));
      expect(created.stdout, `${created.stderr}\n${server.output()}`).toMatch(/^Pipeline created\. ID: /);
      const triggered = await client("trigger", lastId(created.stdout), "main", "--wait");
      expect(triggered.code).toBe(0);
      const runId = /Run ID: (\S+)/.exec(triggered.stdout)![1]!;
      const shown = await client("get-run", runId);
      expect(shown.stdout).toMatch(new RegExp(`Run: ID: ${runId}\n  PipelineID: ${lastId(created.stdout)}\n  GitRef: main\n  Status: success`));
      expect((await client("list-runs", "--pipeline", lastId(created.stdout))).stdout).toContain(runId);
      // Outside the stage prefix there is nothing.
      expect((await fetch(url.replace(/\/prod$/, "/pipelines"), { headers: { authorization: TOKEN } })).status).toBe(404);
      server.child.kill("SIGTERM");
      await once(server.child, "exit");
    } finally {
      // A server left running would take the next test's runs.
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dist, { recursive: true, force: true });
    }
  });

  it("recovers the run of a worker killed with SIGKILL within the lease + 5 s, then starts the pipeline's next run", async () => {
    const apiProc = start(["server", "--store", db, "--workers", "0", "--port", "0", "--token", TOKEN]);
    const base = (await apiProc.waitFor(/listening on (\S+)/))[1]!;
    const args = ["worker", "--store", db, "--workers", "1", "--stage-duration-ms", "60000", "--lease-ms", "1000", "--shutdown-grace-ms", "200"];
    const victim = start(args);
    await victim.waitFor(/worker\(s\) on/);
    const pipeline = await api<{ id: string }>(base, "POST", "/pipelines", { name: "k", repository: "r", stages: { run_stage: { command: "sleep" } } });
    const first = (await api<Run>(base, "POST", `/pipelines/${pipeline.body.id}/trigger`)).body;
    const second = (await api<Run>(base, "POST", `/pipelines/${pipeline.body.id}/trigger`)).body;
    await victim.waitFor(new RegExp(`run ${first.id} started`));

    const survivor = start(args);
    await survivor.waitFor(/worker\(s\) on/);
    victim.child.kill("SIGKILL");
    const killedAt = Date.now();
    const lost = await until(
      async () => {
        const run = (await api<Run>(base, "GET", `/runs/${first.id}`)).body;
        return run.status === "failed" ? run : undefined;
      },
      1000 + 5000 + 2000,
      "the killed worker's run to be recovered",
    );
    expect(Date.now() - killedAt).toBeLessThan(1000 + 5000);
    expect(lost.error).toMatch(/worker lost/);
    expect(lost.stages[0]!.status).toBe("failed");
    await survivor.waitFor(new RegExp(`run ${second.id} started`), 5000);
    expect((await api<Run>(base, "GET", `/runs/${second.id}`)).body.status).toBe("running");
    const running = (await runsOfDb()).filter((r) => r.status === "running");
    expect(running.map((r) => r.id)).toEqual([second.id]);

    // SIGTERM on the busy survivor: exit 0, its run handed back (queued again), nothing left running.
    survivor.child.kill("SIGTERM");
    const [code] = await once(survivor.child, "exit");
    expect(code).toBe(0);
    expect(survivor.output()).toMatch(/1 run\(s\) handed back/);
    const after = (await api<Run>(base, "GET", `/runs/${second.id}`)).body;
    expect(after.status).toBe("queued");
    expect((await runsOfDb()).filter((r) => r.status === "running")).toEqual([]);
    apiProc.child.kill("SIGTERM");
    await once(apiProc.child, "exit");
  });

  it("`stagerunner worker --executor shell`: output followed live by the CLI; kill -9 leaves no stage process", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stagerunner-shell-"));
    const repository = makeRepository(join(dir, "repo")).path;
    try {
      const apiProc = start(["server", "--store", db, "--workers", "0", "--port", "0", "--token", TOKEN]);
      const base = (await apiProc.waitFor(/listening on (\S+)/))[1]!;
      const shell = ["--executor", "shell", "--allow-root", "--workspace-dir", join(dir, "ws"), "--kill-grace-ms", "500", "--lease-ms", "1000"];
      const worker = start(["worker", "--store", db, "--workers", "1", ...shell]);
      await worker.waitFor(/worker\(s\) on/);
      const client = (...args: string[]) => cli(["client", "--url", base, "--token", TOKEN, ...args]);

      const stages = { run_stage: { command: "./test.sh; echo from-the-worker" } };
      await api(base, "POST", "/pipelines", { name: "shell-pg", repository, stages });
      const followed = await client("trigger", "shell-pg", "feature", "--wait");
      expect(followed.code, followed.stderr).toBe(0);
      expect(followed.stdout).toContain("test.sh at feature");
      expect(followed.stdout).toContain("from-the-worker");

      const pids = join(dir, "stage.pids");
      const hang = { run_stage: { command: `echo $$ > ${pids}; sleep 60 & echo $! >> ${pids}; sleep 60` } };
      const pipeline = await api<{ id: string }>(base, "POST", "/pipelines", { name: "shell-kill", repository: "r", stages: hang });
      await api(base, "POST", `/pipelines/${pipeline.body.id}/trigger`);
      await until(async () => (existsSync(pids) && pidsIn(pids).length === 2 ? true : undefined), 20_000, "the stage's processes");
      worker.child.kill("SIGKILL");
      await allGone(pidsIn(pids));
      apiProc.child.kill("SIGTERM");
      await once(apiProc.child, "exit");
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
