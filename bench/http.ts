/**
 * HTTP: the emulator in a child process, loaded with autocannon, side by side with a bare Express 5
 * app returning the same JSON bodies. Same flags for every target; a warm-up precedes each measure.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import autocannon from "autocannon";

export interface HttpPoint {
  target: "emulator" | "express";
  request: string;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server CPU time (user + system) per request, microseconds. */
  cpuMicrosPerRequest: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export interface HttpOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

interface Target {
  child: ChildProcess;
  url: string;
  pipelineId: string;
  token: string;
}

async function startTarget(mode: "emulator" | "express"): Promise<Target> {
  const child = fork(new URL("./httpTarget.ts", import.meta.url).pathname, [mode], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return { child, ...JSON.parse(line.toString()) };
}

async function cpuMicros(child: ChildProcess): Promise<number> {
  child.send("cpu");
  const [usage] = (await once(child, "message")) as [NodeJS.CpuUsage];
  return usage.user + usage.system;
}

async function load(target: Target, request: { method: "GET" | "POST"; path: string; body?: string }, seconds: number, connections: number) {
  return autocannon({
    url: target.url + request.path,
    method: request.method,
    headers: { authorization: target.token, "content-type": "application/json" },
    ...(request.body ? { body: request.body } : {}),
    connections,
    duration: seconds,
  });
}

export async function measureHttp(opts: HttpOptions, progress: (line: string) => void): Promise<HttpPoint[]> {
  const points: HttpPoint[] = [];
  for (const mode of ["express", "emulator"] as const) {
    const target = await startTarget(mode);
    try {
      const requests = [
        { name: "GET /pipelines/{id}", method: "GET" as const, path: `/pipelines/${target.pipelineId}` },
        { name: "GET /runs?limit=20", method: "GET" as const, path: "/runs?limit=20" },
        { name: "POST /pipelines/{id}/trigger", method: "POST" as const, path: `/pipelines/${target.pipelineId}/trigger`, body: '{"git_ref":"main"}' },
      ];
      for (const request of requests) {
        progress(`http: ${mode} ${request.name}`);
        await load(target, request, opts.warmupSeconds, opts.connections);
        const before = await cpuMicros(target.child);
        const result = await load(target, request, opts.seconds, opts.connections);
        const cpu = (await cpuMicros(target.child)) - before;
        const total = result["2xx"] + result.non2xx;
        points.push({
          target: mode,
          request: request.name,
          // From the count, not autocannon's per-second histogram, which is empty for sub-second runs.
          requestsPerSecond: total / result.duration,
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          cpuMicrosPerRequest: total ? cpu / total : NaN,
          requests: total,
          errors: result.errors,
          non2xx: result.non2xx,
        });
      }
    } finally {
      target.child.kill("SIGKILL");
    }
  }
  return points;
}
