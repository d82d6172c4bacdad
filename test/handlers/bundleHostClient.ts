/**
 * A client for bundleHost.mjs: a fresh plain-node process that loads built bundles as a Lambda runtime
 * does and invokes their `handler`, one invocation at a time. Shared by the bundle tests and the event
 * suite when it runs over the bundles.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { ApiResult } from "../../lib/http/results.ts";
import { eventFor, readResult, type Answer, type ClientRequest, type EventKindFixture } from "./eventFixtures.ts";

const hostScript = new URL("./bundleHost.mjs", import.meta.url).pathname;

export interface Reply {
  result?: unknown;
  exports?: string[];
  handler?: string;
  error?: string;
}

/** A bundleHost.mjs process over the bundles of `dist`, with only the environment given (nothing inherited from the test's). */
export class Host {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private next = 0;
  private stderr = "";

  constructor(
    private readonly dist: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [hostScript], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "pipe" });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      if (!line.startsWith("@@host ")) return;
      const reply = JSON.parse(line.slice("@@host ".length)) as Reply & { id: number };
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
    this.child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.child.on("exit", (code) => {
      for (const settle of this.pending.values()) settle({ error: `host exited (${code}):\n${this.stderr}` });
      this.pending.clear();
    });
  }

  /** A bundle's file: `handlers/<name>.mjs`, or `app.mjs` for "../app". */
  bundlePath(name: string): string {
    return join(this.dist, "handlers", `${name}.mjs`);
  }

  send(request: { bundle: string; event?: unknown }): Promise<Reply> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  /** `name`'s handler's result for `event`; an invocation that throws fails the test with its error. */
  async invoke(name: string, event: unknown): Promise<unknown> {
    const reply = await this.send({ bundle: this.bundlePath(name), event });
    if (reply.error !== undefined) throw new Error(`${name}: ${reply.error}\n${this.stderr}`);
    return reply.result;
  }

  /** Invokes the bundle of `request`'s route with `fixture`'s event for it, and reads the result in that kind's shape. */
  async call(fixture: EventKindFixture, request: ClientRequest): Promise<Answer> {
    const { route, event } = eventFor(fixture, request);
    return readResult(fixture, (await this.invoke(route.name, event)) as ApiResult);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin.end();
    await exited;
  }
}

