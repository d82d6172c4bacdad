/**
 * `stagerunner client` as a user runs it: the real binary against the real emulator (in-process,
 * 20 ms stages). Setup that is not under test goes through the API client directly, to keep spawns few.
 */
import * as z from "zod/mini";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { StagerunnerApi } from "../../cli/client/api.ts";
import { Pipeline, Run } from "../../lib/api/schemas.ts";
import type { RunningServer } from "../../local/server.ts";
import { runOnly, seedPipeline } from "../support/fixtures.ts";
import { bin, cleanEnv, cli, client, lastId, startTestServer, TOKEN } from "./harness.ts";

let server: RunningServer;
let api: StagerunnerApi;

beforeAll(async () => {
  server = await startTestServer();
  api = new StagerunnerApi(server.url, { token: TOKEN });
});
afterAll(() => server.close(0));

// Each spawn loads tsx and the whole CLI: about a second on a busy machine.
describe("stagerunner client", { timeout: 30_000 }, () => {
  it("walks through the seed: create, trigger --wait, get-run, get, list-runs", async () => {
    const created = await client(server, ["create", JSON.stringify(seedPipeline)]);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(created.stdout).toMatch(/^Pipeline created\. ID: [0-9a-f-]{36}\n$/);
    const id = lastId(created.stdout);

    const triggered = await client(server, ["trigger", id, "--wait"]);
    expect(triggered).toMatchObject({ code: 0, stderr: "" });
    const lines = triggered.stdout.trimEnd().split("\n");
    const runId = lastId(lines[0]!);
    expect(lines[0]).toBe(`Pipeline triggered. Run ID: ${runId}`);
    // Each stage running, its log lines, its end with its duration, in order.
    expect(lines.slice(1, 5).map((l) => l.replace(/\d+\.\d s/, "N s"))).toEqual(["  run      running", "      $ some command", "      simulated: done in 20 ms", "  run      success (N s)"]);
    expect(lines.filter((l) => /^ {2}\S/.test(l)).map((l) => l.replace(/ \(\d+\.\d s\)$/, ""))).toEqual(
      ["run", "build", "deploy"].flatMap((s) => [`  ${s.padEnd(8)} running`, `  ${s.padEnd(8)} success`]),
    );
    expect(lines).toContain("      $ kubectl --context staging_eks_cluster apply -f k8s/");
    expect(lines.at(-1)).toMatch(new RegExp(`^Run ${runId} success in \\d+\\.\\d s$`));

    const [run, pipeline, runs] = await Promise.all([
      client(server, ["get-run", runId]),
      client(server, ["get", id]),
      client(server, ["list-runs", "--pipeline", id, "--json"]),
    ]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(
      new RegExp(
        `^Run: ID: ${runId}\n  PipelineID: ${id}\n  GitRef: main\n  Status: success\n  Created: \\S+Z\n  Started: \\S+Z\n  Finished: \\S+Z\n  Stages:\n`,
      ),
    );
    expect(run.stdout).toMatch(/^ {4}run {6}success {2}\S+Z -> \S+Z\n {6}\$ some command\n/m);
    expect(run.stdout).not.toContain("Error:");
    expect(pipeline.stdout.split("\n")).toEqual(
      expect.arrayContaining([
        `Pipeline: ID: ${id}`,
        "  Name: test1",
        "  Repository: repo1",
        "    run      command: some command",
        "    deploy   cluster_name: staging_eks_cluster, manifest_path: k8s/",
      ]),
    );
    const listed = z.array(Run).parse(JSON.parse(runs.stdout));
    expect(listed.map((r) => [r.id, r.status])).toEqual([[runId, "success"]]);
  });

  it("reads the body from @file and from stdin, and --json prints the wire shapes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stagerunner-"));
    onTestFinished(() => rm(dir, { recursive: true }));
    const file = join(dir, "pipeline.json");
    await writeFile(file, JSON.stringify(seedPipeline));
    const [fromFile, fromStdin] = await Promise.all([
      client(server, ["--json", "create", `@${file}`]),
      client(server, ["create", "-"], { input: JSON.stringify(runOnly("from-stdin")) }),
    ]);
    expect(fromFile.code).toBe(0);
    expect(Pipeline.parse(JSON.parse(fromFile.stdout))).toMatchObject(seedPipeline);
    expect(fromStdin.code).toBe(0);
    expect(await api.getPipeline(lastId(fromStdin.stdout))).toMatchObject(runOnly("from-stdin"));
  });

  it("trigger --env sends parameters (a value may hold =), get-run shows them, the server's refusal names one", async () => {
    const { id } = await api.createPipeline(runOnly("with-env"));
    const [triggered, refused] = await Promise.all([
      client(server, ["trigger", "with-env", "v1", "--env", "DEPLOY_ENV=staging", "--env", "QUERY=a=b&c=", "--json"]),
      client(server, ["trigger", "with-env", "--env", "lower=x"]),
    ]);
    expect(triggered).toMatchObject({ code: 0, stderr: "" });
    const run = Run.parse(JSON.parse(triggered.stdout));
    expect(run).toMatchObject({ pipeline_id: id, git_ref: "v1", env: { DEPLOY_ENV: "staging", QUERY: "a=b&c=" } });
    const shown = await client(server, ["get-run", run.id]);
    expect(shown.stdout).toContain("  GitRef: v1\n  Env:\n    DEPLOY_ENV=staging\n    QUERY=a=b&c=\n  Status: ");
    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toContain("  env.lower: lower is not a valid variable name");
  });

  it("updates and deletes a pipeline by name, without asking when stdin is not a terminal", async () => {
    const { id } = await api.createPipeline(runOnly("before"));
    const updated = await client(server, ["update", "before", JSON.stringify(runOnly("after")), "--json"]);
    expect(updated.code).toBe(0);
    expect(Pipeline.parse(JSON.parse(updated.stdout))).toMatchObject({ id, name: "after" });
    const deleted = await client(server, ["delete", "after"]);
    expect(deleted).toMatchObject({ code: 0, stdout: `Pipeline deleted. ID: ${id}\n` });
    await expect(api.getPipeline(id)).rejects.toMatchObject({ problem: { status: 404 } });
  });

  it("asks before deleting on a terminal; anything but yes deletes nothing, exit 1", async () => {
    const { id } = await api.createPipeline(runOnly("asked-about"));
    // script(1) gives the CLI a terminal; the answer is typed once the question is there.
    const command = [process.execPath, bin, "client", "--url", server.url, "--token", TOKEN, "delete", "asked-about"].join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: cleanEnv() });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const exited = once(child, "exit");
    while (!output.includes("[y/N]")) await once(child.stdout, "data");
    child.stdin.write("n\n");
    const [code] = await exited;
    expect(output).toContain(`Delete pipeline asked-about (${id}) and cancel its queued and running runs? [y/N]`);
    expect(output).toContain("error: not deleted");
    expect(code).toBe(1);
    expect((await api.getPipeline(id)).name).toBe("asked-about");
  });

  it("prints the server's problem on stderr and exits 1", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    const [invalid, missing, wrongToken] = await Promise.all([
      client(server, ["create", '{"name":"","repository":"r","stages":{"run_stage":{}}}']),
      client(server, ["get-run", unknown]),
      cli(["client", "--url", server.url, "--token", "wrong", "list"]),
    ]);
    expect(invalid).toMatchObject({ code: 1, stdout: "" });
    expect(invalid.stderr.trimEnd().split("\n")).toEqual([
      "error: 400 Bad Request: request body is invalid",
      "  name: name must not be empty",
      "  stages.run_stage.command: command is required",
    ]);
    expect(missing).toMatchObject({ code: 1, stdout: "", stderr: `error: 404 Not Found: run ${unknown} not found\n` });
    expect(wrongToken).toMatchObject({ code: 1, stdout: "", stderr: "error: 401 Unauthorized: missing or invalid token\n" });
  });

  it("list --limit hints on stderr at the next page, repeating every flag given", async () => {
    await api.createPipeline(runOnly("page-a"));
    await api.createPipeline(runOnly("page-b"));
    const [first, json] = await Promise.all([
      client(server, ["list", "--limit", "1"]),
      // A token from the environment was not given as a flag: the hint leaves it there.
      cli(["client", "--url", server.url, "list", "--json", "--limit", "1"], { env: { STAGERUNNER_TOKEN: TOKEN } }),
    ]);
    expect(first.code).toBe(0);
    const [line, ...more] = first.stdout.trimEnd().split("\n");
    expect(line).toMatch(/^[0-9a-f-]{36}  \S+  \S+  [a-z,]+$/);
    expect(more).toEqual([]);
    // The hint repeats the flags and the limit, so that running it gives the next page of the same size.
    const given = `--url ${server.url} --token ${TOKEN}`;
    const cursor = new RegExp(`^More pipelines: stagerunner client ${given} list --limit 1 --cursor (\\S+)\n$`).exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const next = await api.listPipelines({ limit: 1, cursor: cursor! });
    expect(next.items[0]?.id).not.toBe(lastId(line!.split(" ")[0]!));
    expect(JSON.parse(json.stdout)).toHaveLength(1);
    expect(json.stderr).toMatch(new RegExp(`^More pipelines: stagerunner client --url ${server.url} --json list --limit 1 --cursor \\S+\n$`));
  });

  it("keeps the base path of --url (https://host/prod)", async () => {
    const proxy = await prefixProxy("/prod", server.url);
    try {
      const { id } = await api.createPipeline(runOnly("behind-a-proxy"));
      const result = await cli(["client", "--url", `${proxy.url}/prod/`, "--token", TOKEN, "get", id]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout).toContain("  Name: behind-a-proxy");
      expect(proxy.paths).toEqual([`/prod/pipelines/${id}`]);
    } finally {
      proxy.server.close();
    }
  });
});

/** A gateway stand-in: forwards `<prefix>/...` to `target` without the prefix, answers 404 to anything else. */
async function prefixProxy(prefix: string, target: string): Promise<{ server: Server; url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url!);
    if (!req.url!.startsWith(`${prefix}/`)) return void res.writeHead(404).end();
    const upstream = request(`${target}${req.url!.slice(prefix.length)}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}
