/** `npm run demo` (tsx cli/demo.ts) against the emulator: the whole tour, and a wrong token. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../local/server.ts";
import { node, startTestServer, TOKEN } from "./harness.ts";

const demo = new URL("../../cli/demo.ts", import.meta.url).pathname;
let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close(0));

describe.concurrent("demo", { timeout: 30_000 }, () => {
  it("creates a pipeline, follows three runs to the end and lists them", async () => {
    const result = await node(["--import", "tsx", demo], { env: { STAGERUNNER_URL: server.url, STAGERUNNER_TOKEN: TOKEN } });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^Pipeline created\. ID: /);
    expect(result.stdout.match(/^Pipeline triggered\. Run ID: /gm)).toHaveLength(3);
    for (const ref of ["main", "feature/login", "v1.2.0"]) {
      expect(result.stdout).toMatch(new RegExp(`^\\[${ref}\\] +deploy +success`, "m"));
      expect(result.stdout).toMatch(new RegExp(`^\\S{36}  demo-\\S+  ${ref} +success `, "m"));
    }
    expect(result.stdout.match(/^Run \S+ success in /gm)).toHaveLength(3);
  });

  it("stops with one line when the token is wrong", async () => {
    const result = await node(["--import", "tsx", demo, "--url", server.url, "--token", "wrong"]);
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toBe("demo: 401 Unauthorized: missing or invalid token (pass the server's token with --token or STAGERUNNER_TOKEN)\n");
  });
});
