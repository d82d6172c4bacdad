/**
 * Real git repositories for the shell executor's tests: one commit per ref, each with its own
 * `test.sh`, so that what a stage prints says which ref was checked out.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestRepository {
  path: string;
  /** Commit ids by name: first (tag v1), second (branch main), feature (branch feature). */
  commits: { first: string; second: string; feature: string };
}

const git = (cwd: string, ...args: string[]): string =>
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" }).trim();

function commit(path: string, label: string): string {
  writeFileSync(join(path, "test.sh"), `#!/bin/sh\necho "test.sh at ${label}"\n`);
  chmodSync(join(path, "test.sh"), 0o755);
  git(path, "add", "test.sh");
  git(path, "commit", "--quiet", "-m", label);
  return git(path, "rev-parse", "HEAD");
}

/** A repository at `path`: v1 -> main, and a branch `feature` off v1. */
export function makeRepository(path: string): TestRepository {
  mkdirSync(path, { recursive: true });
  git(path, "init", "--quiet");
  const first = commit(path, "first");
  git(path, "tag", "v1");
  const second = commit(path, "second");
  git(path, "checkout", "--quiet", "-b", "feature", "v1");
  const feature = commit(path, "feature");
  git(path, "checkout", "--quiet", "main");
  return { path, commits: { first, second, feature } };
}
