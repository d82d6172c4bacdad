/**
 * Choosing the executor at start-up: the shell executor's settings are checked there, and a bad one
 * stops the process with one line rather than failing every run later.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../lib/api/errors.ts";
import { systemClock } from "../../../lib/clock.ts";
import { loadConfig } from "../../../lib/config/settings.ts";
import { workerSettings } from "../../../lib/config/workerSettings.ts";
import { CUT_MARK } from "../../../lib/worker/shell/lineSplitter.ts";
import { loadSecrets, secretMasker } from "../../../lib/worker/shell/secrets.ts";
import { stageRunnerFor } from "../../../lib/worker/runners.ts";
import { processWorkspaceRoot } from "../../../lib/worker/shell/workspace.ts";

const dir = mkdtempSync(join(tmpdir(), "sr-runners-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shell = (flags: Record<string, string | boolean> = {}) =>
  loadConfig(workerSettings, { executor: "shell", workspaceDir: join(dir, "ws"), ...flags }, {});

const failure = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("stageRunnerFor", () => {
  it("refuses to run stages as root unless --allow-root is given", () => {
    expect(failure(() => stageRunnerFor(shell(), systemClock, 0))).toMatch(/^--executor shell: refusing to run stages as root .* pass --allow-root$/);
    expect(stageRunnerFor(shell({ allowRoot: true }), systemClock, 0).run).toBeTypeOf("function");
    expect(stageRunnerFor(shell(), systemClock, 1000).run).toBeTypeOf("function");
  });

  it("rejects a command template with an unknown placeholder, or a placeholder as the program", () => {
    expect(failure(() => stageRunnerFor(shell({ buildCommand: "docker build -f {file} ." }), systemClock, 1000))).toBe(
      "--build-command: unknown placeholder {file} (use {dockerfile}, {image}, {run_id}, {git_ref})",
    );
    expect(failure(() => stageRunnerFor(shell({ deployCommand: "{cluster} apply" }), systemClock, 1000))).toBe(
      "--deploy-command: the program (first word) cannot be a placeholder",
    );
  });

  it("says which workspace directory cannot be used", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    expect(failure(() => stageRunnerFor(shell({ workspaceDir: join(file, "ws") }), systemClock, 1000))).toMatch(/^--workspace-dir: cannot use .*a-file\/ws \(ENOTDIR\)$/);
  });
});

describe("workspace folders", () => {
  it("gives each process a folder of its own and removes those of this host's processes that are gone", () => {
    const root = join(dir, "roots");
    const host = "ci-host-1";
    for (const folder of [`${host}-999999999`, `${host}-${process.pid}`, `other-host-999999999`]) mkdirSync(join(root, folder, "run-x"), { recursive: true });
    expect(processWorkspaceRoot(root, { removeStale: true }, host, 4242)).toBe(join(root, `${host}-4242`));
    expect(readdirSync(root).sort()).toEqual([`${host}-${process.pid}`, "other-host-999999999"]);
  });
});

describe("secrets", () => {
  it("reads a dotenv file: comments, quotes, values over several lines", () => {
    const file = join(dir, "ok.env");
    writeFileSync(file, '# deploy keys\nAPI_TOKEN=abc123\nexport REGION=eu\nCERT="-----BEGIN-----\nxyz\n-----END-----"\n');
    expect(loadSecrets(file)).toEqual({ API_TOKEN: "abc123", REGION: "eu", CERT: "-----BEGIN-----\nxyz\n-----END-----" });
  });

  it("stops start-up with one line for a missing file, a line that is not NAME=value, or a reserved name", () => {
    expect(failure(() => loadSecrets(join(dir, "missing.env")))).toBe(`--secrets-file: cannot read ${join(dir, "missing.env")} (ENOENT)`);
    const bad = join(dir, "bad.env");
    writeFileSync(bad, "A=1\nnot a pair\nB=2\n");
    expect(failure(() => loadSecrets(bad))).toBe(`--secrets-file: ${bad}: "not a pair" is not NAME=value`);
    writeFileSync(bad, "STAGERUNNER_RUN_ID=x\n");
    expect(failure(() => loadSecrets(bad))).toBe(`--secrets-file: ${bad}: STAGERUNNER_RUN_ID is set by Stagerunner itself; choose another name`);
  });

  it("masks the longest value first, so a secret containing another is masked whole", () => {
    const mask = secretMasker({ SHORT: "abc", LONG: "abcdef", EMPTY: "", SPACE: " " });
    expect(mask("x abcdef y abc z")).toBe("x *** y *** z");
    expect(mask("nothing here")).toBe("nothing here");
  });

  it("masks the start of a secret that a cut line ends in, and only in a cut line", () => {
    const mask = secretMasker({ TOKEN: "s3cr3t-t0ken" });
    expect(mask(`${"x".repeat(20)}s3cr3t-t${CUT_MARK}`)).toBe(`${"x".repeat(20)}***${CUT_MARK}`);
    expect(mask(`a s3cr3t-t0ken b s3c${CUT_MARK}`)).toBe(`a *** b ***${CUT_MARK}`);
    expect(mask(`nothing of it${CUT_MARK}`)).toBe(`nothing of it${CUT_MARK}`);
    expect(mask("ends in s3cr3t-t")).toBe("ends in s3cr3t-t");
  });
});
