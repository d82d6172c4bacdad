/**
 * The shell executor with real processes: a checkout of a real git repository at a branch, a tag or
 * a commit, stages as real commands, their environment, masked secrets, and stand-in `docker` and
 * `kubectl` executables that record the arguments they were given.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StageSpec } from "../../../../lib/store/stages.ts";
import { DEFAULT_BUILD_COMMAND, DEFAULT_DEPLOY_COMMAND, parseTemplate } from "../../../../lib/worker/shell/commands.ts";
import { shellRunner, type ShellOptions } from "../../../../lib/worker/shell/shellRunner.ts";
import type { RunContext, StageRunner } from "../../../../lib/worker/stageRunner.ts";
import { makeRepository, type TestRepository } from "../../../support/gitRepository.ts";

const root = mkdtempSync(join(tmpdir(), "sr-shell-"));
const workspaces = join(root, "workspaces");
const bin = join(root, "bin");
let repo: TestRepository;

/** Stand-ins for docker and kubectl: each writes its arguments, one per line, to <name>.argv. */
function standIn(name: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\nfor arg in "$@"; do printf '%s\\n' "$arg"; done > "${root}/${name}.argv"\necho "${name} stand-in ran"\n`);
  chmodSync(join(bin, name), 0o755);
}

beforeAll(() => {
  repo = makeRepository(join(root, "repo"));
  mkdirSync(bin);
  standIn("docker");
  standIn("kubectl");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const templates = { build: parseTemplate("build", DEFAULT_BUILD_COMMAND), deploy: parseTemplate("deploy", DEFAULT_DEPLOY_COMMAND) };
const basics = { PATH: `${bin}:${process.env.PATH}`, HOME: root };

function runner(opts: Partial<ShellOptions> = {}): StageRunner {
  return shellRunner({ workspaceDir: workspaces, keepWorkspaces: false, templates, secrets: {}, killGraceMs: 200, basics, ...opts });
}

let runs = 0;
function runOf(overrides: Partial<RunContext> = {}): RunContext {
  runs++;
  const id = `0190a000-0000-7000-8000-${String(runs).padStart(12, "0")}`;
  return { id, pipelineId: "0190a000-0000-7000-8000-00000000ffff", pipelineName: "My App", repository: repo.path, gitRef: "main", env: {}, ...overrides };
}

/** Runs `stages` of one run in order, as the worker would; the lines logged, and the first failure. */
async function execute(r: StageRunner, run: RunContext, ...stages: StageSpec[]): Promise<{ lines: string[]; error?: string }> {
  const lines: string[] = [];
  try {
    for (const stage of stages) await r.run(stage, { run, log: (line) => lines.push(line), signal: new AbortController().signal });
    return { lines };
  } catch (error) {
    return { lines, error: (error as Error).message };
  } finally {
    await r.endRun?.(run);
  }
}

const runStage = (command: string): StageSpec => ({ kind: "run", command });

describe("shell executor: checkout", () => {
  it.each([
    ["a branch", "main", "second"],
    ["another branch", "feature", "feature"],
    ["a tag", "v1", "first"],
  ])("checks out %s (%s) and runs the stage in it", async (_, ref, label) => {
    const { lines, error } = await execute(runner(), runOf({ gitRef: ref }), runStage("./test.sh"));
    expect(error).toBeUndefined();
    expect(lines).toContain(`test.sh at ${label}`);
    expect(lines.some((line) => line.startsWith("$ git fetch --depth 1"))).toBe(true);
  });

  it("checks out a commit by its full id and by an abbreviated one", async () => {
    expect((await execute(runner(), runOf({ gitRef: repo.commits.feature }), runStage("./test.sh"))).lines).toContain("test.sh at feature");
    expect((await execute(runner(), runOf({ gitRef: repo.commits.first.slice(0, 10) }), runStage("./test.sh"))).lines).toContain("test.sh at first");
  });

  it("fails the run with a clear error for a ref the repository does not have, a name or a commit id", async () => {
    for (const ref of ["no-such-branch", "deadbeef"]) {
      const { error } = await execute(runner(), runOf({ gitRef: ref }), runStage("./test.sh"));
      expect(error).toBe(`checkout failed: no branch, tag or commit "${ref}" in ${repo.path}`);
    }
  });

  it("does not fetch everything when a branch cannot be fetched, and never shows a token in a URL", async () => {
    const source = "https://ghp_secrettoken@127.0.0.1:9/x.git";
    const { lines, error } = await execute(runner(), runOf({ repository: source }), runStage("true"));
    expect(error).toBe("checkout failed: git fetch of main from https://***@127.0.0.1:9/x.git failed (see the log)");
    expect(lines.join("\n")).not.toContain("ghp_secrettoken");
    expect(lines.some((line) => line.startsWith("fetching every branch"))).toBe(false);
  });

  it("takes a relative path for a name, not a repository (it would differ between worker processes)", async () => {
    const { lines } = await execute(runner(), runOf({ repository: "repo" }), runStage("true"));
    expect(lines[0]).toContain("the stages run in an empty workspace");
  });

  it("runs the stages in an empty workspace when the repository is not a git repository", async () => {
    const { lines, error } = await execute(runner(), runOf({ repository: "repo1" }), runStage("ls -A | wc -l"));
    expect(error).toBeUndefined();
    expect(lines[0]).toContain('"repo1" is not a git URL or the absolute path of a git repository');
    expect(lines.at(-1)?.trim()).toBe("0");
  });

  it("removes the workspace when the run ends, unless asked to keep it", async () => {
    rmSync(workspaces, { recursive: true, force: true });
    await execute(runner(), runOf(), runStage("true"));
    expect(readdirSync(workspaces)).toEqual([]);
    const run = runOf();
    await execute(runner({ keepWorkspaces: true }), run, runStage("true"));
    const [kept] = readdirSync(workspaces);
    expect(kept?.startsWith(run.id)).toBe(true);
    expect(existsSync(join(workspaces, kept!, "test.sh"))).toBe(true);
  });
});

describe("shell executor: stages", () => {
  it("fails a stage with its exit status, or the signal that killed it", async () => {
    expect((await execute(runner(), runOf({ repository: "repo1" }), runStage("echo bye; exit 3"))).error).toBe("run stage failed: exit status 3");
    expect((await execute(runner(), runOf({ repository: "repo1" }), runStage("kill -s KILL $$"))).error).toBe("run stage failed: killed by signal SIGKILL");
  });

  it("gives each stage the documented environment and nothing of the server's own", async () => {
    process.env.STAGERUNNER_TOKEN = "server-token";
    process.env.DATABASE_URL = "postgres://secret@db/x";
    try {
      const run = runOf({ repository: "repo1", gitRef: "v2", env: { GREETING: "hello world" } });
      const { lines } = await execute(runner(), run, runStage("env | sort"));
      const env = Object.fromEntries(lines.slice(2).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
      expect(env).toMatchObject({
        CI: "true",
        GREETING: "hello world",
        HOME: root,
        PATH: basics.PATH,
        STAGERUNNER_RUN_ID: run.id,
        STAGERUNNER_PIPELINE_ID: run.pipelineId,
        STAGERUNNER_PIPELINE_NAME: "My App",
        STAGERUNNER_GIT_REF: "v2",
        STAGERUNNER_STAGE: "run",
        STAGERUNNER_IMAGE: `stagerunner/my-app:${run.id}`,
      });
      expect(env.STAGERUNNER_WORKSPACE?.startsWith(join(workspaces, run.id))).toBe(true);
      expect(env).not.toHaveProperty("STAGERUNNER_TOKEN");
      expect(env).not.toHaveProperty("DATABASE_URL");
    } finally {
      delete process.env.STAGERUNNER_TOKEN;
      delete process.env.DATABASE_URL;
    }
  });

  it("gives stages the secrets and masks their values in every line", async () => {
    const secrets = { API_TOKEN: "s3cr3t-value", CERT: "{\nline-one\nline-two\n}" };
    const { lines } = await execute(runner({ secrets }), runOf({ repository: "repo1" }), runStage('echo "token=$API_TOKEN twice $API_TOKEN"; printf "%s\\n" "$CERT"'));
    // The lines of a multi-line value are masked, but for the short ones ("{"), which are everywhere.
    expect(lines.slice(-5)).toEqual(["token=*** twice ***", "{", "***", "***", "}"]);
    expect(lines.join("\n")).not.toContain("s3cr3t");
  });

  it("builds with docker and deploys with kubectl, each pipeline value one argument, never a shell word", async () => {
    const run = runOf({ repository: "repo1" });
    const dockerfile = "docker/My File $(touch pwned)";
    const { lines, error } = await execute(
      runner(),
      run,
      { kind: "build", dockerfile_path: dockerfile },
      { kind: "deploy", cluster_name: "staging; rm -rf /", manifest_path: "k8s/" },
    );
    expect(error).toBeUndefined();
    expect(lines).toContain("docker stand-in ran");
    expect(readFileSync(join(root, "docker.argv"), "utf8").split("\n").slice(0, -1)).toEqual(["build", "-f", dockerfile, "-t", `stagerunner/my-app:${run.id}`, "."]);
    expect(readFileSync(join(root, "kubectl.argv"), "utf8").split("\n").slice(0, -1)).toEqual(["--context", "staging; rm -rf /", "apply", "-f", "k8s/"]);
    expect(existsSync(join(root, "pwned"))).toBe(false);
  });

  it("uses the operator's command templates", async () => {
    writeFileSync(join(bin, "podman"), readFileSync(join(bin, "docker"), "utf8").replaceAll("docker", "podman"));
    chmodSync(join(bin, "podman"), 0o755);
    const build = parseTemplate("build", "podman build --file={dockerfile} --tag {image} .");
    const run = runOf({ repository: "repo1" });
    await execute(runner({ templates: { ...templates, build } }), run, { kind: "build", dockerfile_path: "Containerfile" });
    expect(readFileSync(join(root, "podman.argv"), "utf8").split("\n").slice(0, -1)).toEqual(["build", "--file=Containerfile", "--tag", `stagerunner/my-app:${run.id}`, "."]);
  });

  it('fails a stage whose tool is missing with "<tool>: not found on PATH"', async () => {
    const r = runner({ basics: { PATH: "/usr/bin:/bin", HOME: root } });
    const { lines, error } = await execute(r, runOf({ repository: "repo1" }), { kind: "build", dockerfile_path: "Dockerfile" });
    expect(lines.at(-1)).toBe("docker: not found on PATH");
    expect(error).toBe("build stage failed: docker: not found on PATH");
  });

  it("stops a stage on abort and rejects with the abort's reason once the process is gone", async () => {
    const abort = new AbortController();
    const r = runner();
    const run = runOf({ repository: "repo1" });
    const lines: string[] = [];
    const running = r.run(runStage("echo started; sleep 60"), { run, log: (line) => lines.push(line), signal: abort.signal });
    while (!lines.includes("started")) await new Promise((resolve) => setTimeout(resolve, 10));
    abort.abort(new Error("cancelled: by request"));
    await expect(running).rejects.toThrow("cancelled: by request");
    await r.endRun?.(run);
  });
});
