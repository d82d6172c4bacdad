/**
 * HTTP: the emulator in a child process, loaded with autocannon, side by side with a bare Express 5
 * app returning the same JSON bodies. Same flags for every target; a warm-up precedes each measure.
 *
 * The two run at once and are loaded in alternating rounds (express, emulator, then emulator,
 * express, ...), and each round's ratio is taken from the pair measured back to back: on a shared
 * machine the load drifts over a minute, which measuring one target after the other would count
 * as a difference between them. Each round also reads the server process's CPU time before and after,
 * so CPU per request pairs up by round as requests/s does.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import autocannon from "autocannon";
import { median } from "./stats.ts";

export interface HttpPoint {
  target: "emulator" | "express";
  request: string;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server CPU time (user + system) per request over all rounds, microseconds. */
  cpuMicrosPerRequest: number;
  /** CPU µs per request of each round, paired as `rounds` is. */
  cpuRounds: number[];
  requests: number;
  errors: number;
  non2xx: number;
  /** Requests/s of each round, in order; round i of the emulator ran next to round i of express. */
  rounds: number[];
}

export interface HttpOptions {
  connections: number;
  /** Per target and request, split into `rounds` alternating rounds. */
  seconds: number;
  /**
   * Instead of `seconds`, this many requests per round: short runs (--quick, --tiny), as autocannon
   * ends a timed run only on a whole second (see Length).
   */
  requests?: number;
  rounds: number;
  /** Per target and request, before the rounds; 0 for none. */
  warmupSeconds: number;
}

/**
 * How long one autocannon run goes: seconds, or a number of requests. autocannon ends a run on its next
 * sample (every `sampleInt` ms, 1000 by default), which a run by requests takes every 10 ms.
 */
type Length = { duration: number } | { amount: number; sampleInt: number };

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

async function load(target: Target, request: { method: "GET" | "POST"; path: string; body?: string }, length: Length, connections: number) {
  return autocannon({
    url: target.url + request.path,
    method: request.method,
    headers: { authorization: target.token, "content-type": "application/json" },
    ...(request.body ? { body: request.body } : {}),
    connections,
    ...length,
  });
}

type Load = Awaited<ReturnType<typeof load>>;

export async function measureHttp(opts: HttpOptions, progress: (line: string) => void): Promise<HttpPoint[]> {
  const modes = ["express", "emulator"] as const;
  const targets = await Promise.all(modes.map(startTarget));
  const points: HttpPoint[] = [];
  try {
    const requestsFor = (target: Target) => [
      { name: "GET /pipelines/{id}", method: "GET" as const, path: `/pipelines/${target.pipelineId}` },
      { name: "GET /runs?limit=20", method: "GET" as const, path: "/runs?limit=20" },
      { name: "POST /pipelines/{id}/trigger", method: "POST" as const, path: `/pipelines/${target.pipelineId}/trigger`, body: '{"git_ref":"main"}' },
    ];
    for (let r = 0; r < requestsFor(targets[0]!).length; r++) {
      const runs = targets.map(() => ({ loads: [] as Load[], cpu: [] as number[] }));
      for (const [i, target] of targets.entries()) {
        if (!opts.warmupSeconds) break;
        progress(`http: ${modes[i]} ${requestsFor(target)[r]!.name} (warm-up)`);
        await load(target, requestsFor(target)[r]!, { duration: opts.warmupSeconds }, opts.connections);
      }
      for (let round = 0; round < opts.rounds; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        for (const i of order) {
          const target = targets[i]!;
          const request = requestsFor(target)[r]!;
          progress(`http: ${modes[i]} ${request.name} (round ${round + 1}/${opts.rounds})`);
          const before = await cpuMicros(target.child);
          const length = opts.requests ? { amount: opts.requests, sampleInt: 10 } : { duration: opts.seconds / opts.rounds };
          runs[i]!.loads.push(await load(target, request, length, opts.connections));
          runs[i]!.cpu.push((await cpuMicros(target.child)) - before);
        }
      }
      for (const [i, run] of runs.entries()) points.push(summarise(modes[i]!, requestsFor(targets[i]!)[r]!.name, run.loads, run.cpu));
    }
  } finally {
    for (const target of targets) target.child.kill("SIGKILL");
  }
  return points;
}

/** One target's rounds for one request as a point: totals over the rounds, latency as their medians. */
function summarise(target: HttpPoint["target"], request: string, loads: Load[], cpu: number[]): HttpPoint {
  // From the counts, not autocannon's per-second histogram, which is empty for sub-second runs.
  const counts = loads.map((l) => l["2xx"] + l.non2xx);
  const requests = counts.reduce((a, b) => a + b, 0);
  const seconds = loads.reduce((a, l) => a + l.duration, 0);
  return {
    target,
    request,
    requestsPerSecond: requests / seconds,
    latencyP50Ms: median(loads.map((l) => l.latency.p50)),
    latencyP99Ms: median(loads.map((l) => l.latency.p99)),
    cpuMicrosPerRequest: requests ? cpu.reduce((a, b) => a + b, 0) / requests : NaN,
    cpuRounds: cpu.map((micros, i) => micros / counts[i]!),
    requests,
    errors: loads.reduce((a, l) => a + l.errors, 0),
    non2xx: loads.reduce((a, l) => a + l.non2xx, 0),
    rounds: loads.map((l, i) => counts[i]! / l.duration),
  };
}
