/** Server configuration: flags over environment over defaults, and one clear line for a bad value. */
import { describe, expect, it } from "vitest";
import { loadServerConfig } from "../../../lib/config/serverSettings.ts";
import { redactUrl } from "../../../lib/config/settings.ts";
import { ConfigError } from "../../../lib/api/errors.ts";

const defaults = {
  host: "127.0.0.1",
  port: 8080,
  token: [],
  workers: 4,
  failureProbability: 0,
  stageDurationMs: 1000,
  shutdownGraceMs: 10_000,
  stageTimeoutS: 3600,
  retainRuns: undefined,
  store: { kind: "memory" },
  dbPoolSize: 10,
  dbPoolWaitMs: 20_000,
  leaseMs: 30_000,
  from: "",
  basePath: "",
  executor: "simulate",
  workspaceDir: "",
  keepWorkspaces: false,
  buildCommand: "docker build -f {dockerfile} -t {image} .",
  deployCommand: "kubectl --context {cluster} apply -f {manifest}",
  secretsFile: "",
  killGraceMs: 10_000,
  allowRoot: false,
};

/** The ConfigError thrown by loading `flags` over `env`; fails the test when nothing is thrown. */
function configError(flags: Parameters<typeof loadServerConfig>[0], env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadServerConfig(flags, env);
  } catch (thrown) {
    expect(thrown).toBeInstanceOf(ConfigError);
    return thrown as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ flags, env })}`);
}

describe("loadServerConfig", () => {
  it("uses the defaults when neither flags nor environment say anything", () => {
    expect(loadServerConfig({}, {})).toEqual(defaults);
  });

  it("takes the environment over the defaults, and ignores empty environment values", () => {
    const env = {
      STAGERUNNER_HOST: "0.0.0.0",
      STAGERUNNER_PORT: "9090",
      STAGERUNNER_TOKEN: "a,b",
      STAGERUNNER_WORKERS: "0",
      STAGERUNNER_FAILURE_PROBABILITY: "0.25",
      STAGERUNNER_STAGE_DURATION_MS: "0",
      STAGERUNNER_SHUTDOWN_GRACE_MS: "500",
      STAGERUNNER_STORE: "postgres://u:pw@db:5432/ci",
      STAGERUNNER_DB_POOL_SIZE: "4",
      STAGERUNNER_DB_POOL_WAIT_MS: "2500",
      STAGERUNNER_LEASE_MS: "5000",
      STAGERUNNER_STAGE_TIMEOUT_S: "60",
      STAGERUNNER_RETAIN_RUNS: "50",
      STAGERUNNER_EXECUTOR: "shell",
      STAGERUNNER_WORKSPACE_DIR: "/srv/ws",
      STAGERUNNER_KEEP_WORKSPACES: "true",
      STAGERUNNER_BUILD_COMMAND: "podman build -f {dockerfile} -t {image} .",
      STAGERUNNER_DEPLOY_COMMAND: "kubectl apply -k {manifest}",
      STAGERUNNER_SECRETS_FILE: "/etc/stagerunner/secrets.env",
      STAGERUNNER_KILL_GRACE_MS: "2000",
      STAGERUNNER_ALLOW_ROOT: "1",
    };
    expect(loadServerConfig({}, env)).toEqual({
      store: { kind: "postgres", url: "postgres://u:pw@db:5432/ci" },
      dbPoolSize: 4,
      dbPoolWaitMs: 2500,
      leaseMs: 5000,
      from: "",
      basePath: "",
      host: "0.0.0.0",
      port: 9090,
      token: ["a", "b"],
      workers: 0,
      failureProbability: 0.25,
      stageDurationMs: 0,
      shutdownGraceMs: 500,
      stageTimeoutS: 60,
      retainRuns: 50,
      executor: "shell",
      workspaceDir: "/srv/ws",
      keepWorkspaces: true,
      buildCommand: "podman build -f {dockerfile} -t {image} .",
      deployCommand: "kubectl apply -k {manifest}",
      secretsFile: "/etc/stagerunner/secrets.env",
      killGraceMs: 2000,
      allowRoot: true,
    });
    expect(loadServerConfig({}, { STAGERUNNER_PORT: "", STAGERUNNER_WORKERS: "" })).toEqual(defaults);
  });

  it("reads DATABASE_URL when STAGERUNNER_STORE is unset, and never echoes a password", () => {
    expect(loadServerConfig({}, { DATABASE_URL: "postgresql://db/x" }).store).toEqual({ kind: "postgres", url: "postgresql://db/x" });
    expect(loadServerConfig({}, { DATABASE_URL: "postgresql://db/x", STAGERUNNER_STORE: "memory" }).store).toEqual({ kind: "memory" });
    const error = configError({ store: "mysql://root:hunter2@db/x" });
    expect(error.message).toBe('--store: must be "memory" or a postgres:// connection URL (got "mysql://root:***@db/x")');
  });

  it("masks passwords in the user part and in the query string", () => {
    expect(redactUrl("postgres://u:p@ss@db/x")).toBe("postgres://u:***@db/x");
    expect(redactUrl("postgres://u@db/x?password=secret&sslmode=require")).toBe("postgres://u@db/x?password=***&sslmode=require");
    expect(redactUrl("postgres://db/x")).toBe("postgres://db/x");
  });

  it("reads a switch as true when given as a flag, and true/false, 1/0, yes/no from the environment", () => {
    expect(loadServerConfig({ allowRoot: true, keepWorkspaces: true }, {})).toMatchObject({ allowRoot: true, keepWorkspaces: true });
    expect(loadServerConfig({}, { STAGERUNNER_ALLOW_ROOT: "no", STAGERUNNER_KEEP_WORKSPACES: "YES" })).toMatchObject({ allowRoot: false, keepWorkspaces: true });
    expect(configError({}, { STAGERUNNER_ALLOW_ROOT: "maybe" }).message).toBe('STAGERUNNER_ALLOW_ROOT: must be true or false (got "maybe")');
    expect(configError({ executor: "docker" }).message).toBe('--executor: must be "simulate" or "shell" (got "docker")');
  });

  it("takes flags over the environment", () => {
    const env = { STAGERUNNER_PORT: "9090", STAGERUNNER_WORKERS: "8", STAGERUNNER_TOKEN: "from-env" };
    expect(loadServerConfig({ port: "7070", token: "from-flag" }, env)).toMatchObject({ port: 7070, workers: 8, token: ["from-flag"] });
  });

  it("accepts the edges of each range", () => {
    expect(loadServerConfig({ port: "0", workers: "1024", failureProbability: "1" }, {})).toMatchObject({ port: 0, workers: 1024, failureProbability: 1 });
    expect(loadServerConfig({ port: "65535", failureProbability: ".5" }, {})).toMatchObject({ port: 65535, failureProbability: 0.5 });
    expect(loadServerConfig({ port: " 8081 " }, {})).toMatchObject({ port: 8081 });
  });

  it("rejects bad flag values with a one-line message naming the flag and the value", () => {
    const cases: [Parameters<typeof loadServerConfig>[0], string][] = [
      [{ port: "abc" }, "--port"],
      [{ port: "70000" }, "--port"],
      [{ port: "80.5" }, "--port"],
      [{ port: "" }, "--port"],
      [{ workers: "-1" }, "--workers"],
      [{ workers: "1025" }, "--workers"],
      [{ failureProbability: "1.5" }, "--failure-probability"],
      [{ failureProbability: "-0.1" }, "--failure-probability"],
      [{ failureProbability: "half" }, "--failure-probability"],
      [{ stageDurationMs: "1e3" }, "--stage-duration-ms"],
      [{ shutdownGraceMs: "soon" }, "--shutdown-grace-ms"],
      [{ host: "  " }, "--host"],
    ];
    for (const [flags, name] of cases) {
      const error = configError(flags);
      const raw = Object.values(flags)[0]!;
      expect(error.message, JSON.stringify(flags)).toMatch(new RegExp(`^${name}: `));
      expect(error.message).toContain(JSON.stringify(raw));
      expect(error.message).not.toContain("\n");
    }
  });

  it("names the environment variable when the bad value came from it", () => {
    expect(configError({}, { STAGERUNNER_PORT: "abc" }).message).toMatch(/^STAGERUNNER_PORT: .*"abc"/);
    expect(configError({}, { STAGERUNNER_WORKERS: "-1" }).message).toMatch(/^STAGERUNNER_WORKERS: /);
    expect(configError({}, { STAGERUNNER_FAILURE_PROBABILITY: "1.5" }).message).toMatch(/^STAGERUNNER_FAILURE_PROBABILITY: /);
    // A good flag hides a bad environment value.
    expect(loadServerConfig({ port: "1234" }, { STAGERUNNER_PORT: "abc" }).port).toBe(1234);
  });

  it("says what range is allowed", () => {
    expect(configError({ port: "70000" }).message).toBe('--port: must be at most 65535 (got "70000")');
    expect(configError({ workers: "-1" }).message).toContain("0 to 1024");
  });

  it("keeps a value with a line break on one line", () => {
    expect(configError({ port: "80\n80" }).message).not.toContain("\n");
  });
});
