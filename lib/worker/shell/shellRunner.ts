/**
 * The `shell` executor: each run in a workspace of its own (a checkout of its repository at its ref),
 * each stage a real process group whose output is the stage's log and whose exit status decides it.
 */
import { StageFailedError, type RunContext, type StageRunner } from "../stageRunner.ts";
import { stageCommand, imageName, type Templates } from "./commands.ts";
import { describeExit, runInSession, SpawnError } from "./processSession.ts";
import { secretMasker } from "./secrets.ts";
import { hostBasics, stageEnvironment } from "./stageEnvironment.ts";
import { checkout, createWorkspace, gitSource, removeWorkspace } from "./workspace.ts";

export interface ShellOptions {
  /** Where runs' workspaces are made. */
  workspaceDir: string;
  /** Leave each run's workspace in place when it ends (for debugging). */
  keepWorkspaces: boolean;
  templates: Templates;
  /** Given to every stage as environment variables, and masked in every log line. */
  secrets: Record<string, string>;
  /** Between SIGTERM and SIGKILL when a stage is stopped. */
  killGraceMs: number;
  /** PATH and HOME for stages; the worker's own by default. */
  basics?: Record<string, string>;
}

interface Workspace {
  dir: string;
  checkedOut: boolean;
}

export function shellRunner(opts: ShellOptions): StageRunner {
  const mask = secretMasker(opts.secrets);
  const basics = opts.basics ?? hostBasics();
  // By execution, not by run id: a run whose lease ran out may be claimed again in this same process
  // while its first execution is still being stopped, and each must keep its own directory.
  const workspaces = new Map<RunContext, Workspace>();

  /** The run's workspace, checked out on its first stage (again on a retry if the checkout failed). */
  async function prepare(run: RunContext, proc: { signal: AbortSignal; killGraceMs: number; onLine: (line: string) => void }): Promise<Workspace> {
    let workspace = workspaces.get(run);
    if (workspace?.checkedOut) return workspace;
    if (workspace) await removeWorkspace(workspace.dir);
    workspace = { dir: await createWorkspace(opts.workspaceDir, run.id), checkedOut: false };
    workspaces.set(run, workspace);
    const source = gitSource(run.repository);
    if (source) await checkout(source, run.gitRef, { ...proc, cwd: workspace.dir, env: basics });
    else proc.onLine(`${JSON.stringify(run.repository)} is not a git URL or the absolute path of a git repository here: the stages run in an empty workspace`);
    workspace.checkedOut = true;
    return workspace;
  }

  return {
    async run(stage, ctx) {
      const proc = { signal: ctx.signal, killGraceMs: opts.killGraceMs, onLine: (line: string) => ctx.log(mask(line)) };
      const { dir } = await prepare(ctx.run, proc);
      const argv = stageCommand(stage, ctx.run, opts.templates);
      proc.onLine(`$ ${stage.kind === "run" ? stage.command : argv.join(" ")}`);
      const env = stageEnvironment(ctx.run, stage.kind, { basics, secrets: opts.secrets, image: imageName(ctx.run), workspace: dir });
      const status = await runInSession(argv, { ...proc, cwd: dir, env }).catch((error: unknown) => {
        if (!(error instanceof SpawnError)) throw error;
        proc.onLine(error.message);
        throw new StageFailedError(`${stage.kind} stage failed: ${error.message}`);
      });
      ctx.signal.throwIfAborted();
      if (status.code !== 0) throw new StageFailedError(`${stage.kind} stage failed: ${describeExit(status)}`);
    },

    async endRun(run) {
      const workspace = workspaces.get(run);
      workspaces.delete(run);
      if (workspace && !opts.keepWorkspaces) await removeWorkspace(workspace.dir);
    },
  };
}
