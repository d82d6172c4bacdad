/**
 * A run's workspace: a directory of its own under --workspace-dir, holding a checkout of the
 * pipeline's repository at the run's git_ref when the repository is a git URL or a git repository on
 * this machine (otherwise the stages run in the empty directory).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { redactUrl } from "../../config/settings.ts";
import { StageFailedError } from "../stageRunner.ts";
import { describeExit, runInSession, type ExitStatus, type ProcessOptions } from "./processSession.ts";

/**
 * This process's folder under the workspace root, `<host>-<pid>`; the folders of this host's processes
 * that no longer run are removed first (a worker killed with kill -9 leaves its runs' workspaces).
 */
export function processWorkspaceRoot(root: string, opts: { removeStale: boolean }, host = hostname(), pid = process.pid): string {
  for (const entry of opts.removeStale ? readdirSync(root) : []) {
    const match = /^(.+)-(\d+)$/.exec(entry);
    if (match?.[1] === host && !isRunning(Number(match[2]))) rmSync(join(root, entry), { recursive: true, force: true });
  }
  return join(root, `${host}-${pid}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function createWorkspace(root: string, runId: string): Promise<string> {
  await mkdir(root, { recursive: true });
  // mkdtemp: a run claimed again after its worker died gets a fresh directory beside the old one.
  return mkdtemp(join(root, `${runId}-`));
}

export const removeWorkspace = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true, maxRetries: 3 });

/**
 * The repository as git should fetch it, or undefined when it is neither a git URL nor the absolute
 * path of a git repository here (a relative path would mean something else in every worker process).
 */
export function gitSource(repository: string): string | undefined {
  if (/^(https?|ssh|git|file):\/\//i.test(repository) || /^\w[\w.-]*@[\w.-]+:/.test(repository)) return repository;
  if (!isAbsolute(repository)) return undefined;
  const isRepository = existsSync(join(repository, ".git")) || (existsSync(join(repository, "HEAD")) && existsSync(join(repository, "objects")));
  return isRepository ? repository : undefined;
}

/** A URL as it may be shown: credentials (a token is often the user name, https://<token>@host) as ***. */
export function displayUrl(source: string): string {
  if (!URL.canParse(source) || !new URL(source).username) return redactUrl(source);
  const url = new URL(source);
  url.username = "***";
  return redactUrl(url.toString()).replaceAll("%2A%2A%2A", "***");
}

/** What git may take from the worker's environment beside PATH and HOME: an ssh agent, proxies. */
const GIT_PASSTHROUGH = ["SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"];

/** An abbreviated (or refused) commit id: found only by fetching every branch and tag. */
const COMMIT_ID = /^[0-9a-f]{4,40}$/;

/**
 * Checks `source` out at `ref` in the workspace (opts.cwd), each git command and its output logged.
 * Shallow (a branch, a tag, or a full commit id); an abbreviated commit id, or one the server will
 * not hand out by id, is looked up among every branch and tag fetched. A name that is both a branch
 * and a tag means the tag, as in git; `refs/heads/<name>` names the branch.
 */
export async function checkout(source: string, ref: string, opts: ProcessOptions, host: NodeJS.ProcessEnv = process.env): Promise<void> {
  const passed = Object.fromEntries(GIT_PASSTHROUGH.flatMap((name) => (host[name] ? [[name, host[name]]] : [])));
  const env = { ...opts.env, ...passed, GIT_TERMINAL_PROMPT: "0" };
  const output: string[] = [];
  const run = async (...args: string[]): Promise<ExitStatus> => {
    opts.signal.throwIfAborted();
    opts.onLine(`$ git ${args.map((arg) => (arg === source ? displayUrl(arg) : arg)).join(" ")}`);
    output.length = 0;
    const onLine = (line: string) => {
      output.push(line);
      opts.onLine(line);
    };
    const status = await runInSession(["git", ...args], { ...opts, env, onLine });
    opts.signal.throwIfAborted();
    return status;
  };
  const must = async (step: string, ...args: string[]) => {
    const status = await run(...args);
    if (status.code !== 0) throw new StageFailedError(`checkout failed: git ${step} ${describeExit(status)}`);
  };
  const detach = (commit: string) => must("checkout", "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit);
  await must("init", "init", "--quiet");
  await must("remote add", "remote", "add", "origin", source);
  if ((await run("fetch", "--depth", "1", "--no-tags", "origin", ref)).code === 0) await detach("FETCH_HEAD");
  else if (!COMMIT_ID.test(ref)) {
    const missing = output.some((line) => line.includes("couldn't find remote ref"));
    throw new StageFailedError(missing ? notFound(ref, source) : `checkout failed: git fetch of ${ref} from ${displayUrl(source)} failed (see the log)`);
  } else {
    opts.onLine(`fetching every branch and tag to find commit ${ref}`);
    await must("fetch", "fetch", "--quiet", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*");
    if ((await run("rev-parse", "--quiet", "--verify", `${ref}^{commit}`)).code !== 0) throw new StageFailedError(notFound(ref, source));
    await detach(ref);
  }
  // Said in words rather than as the command that finds it out.
  await runInSession(["git", "log", "-1", "--format=checked out %H (%s)"], { ...opts, env });
}

const notFound = (ref: string, source: string) => `checkout failed: no branch, tag or commit ${JSON.stringify(ref)} in ${displayUrl(source)}`;
