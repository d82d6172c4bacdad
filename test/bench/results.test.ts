/**
 * The target checks read the results the right way round: CPU is bare Express's over the emulator's,
 * pairs are taken round by round, and RSS is compared from the first sample after the warm-up.
 */
import { describe, expect, it } from "vitest";
import type { HttpPoint } from "../../bench/http.ts";
import { rssFlatness, type RetentionSample } from "../../bench/retention.ts";
import { checkTargets, httpCpuRatio } from "../../bench/results.ts";

const http = (target: HttpPoint["target"], cpuRounds: number[]): HttpPoint => ({
  target,
  request: "GET /pipelines/{id}",
  requestsPerSecond: 1,
  latencyP50Ms: 1,
  latencyP99Ms: 1,
  cpuMicrosPerRequest: 1,
  cpuRounds,
  requests: 1,
  errors: 0,
  non2xx: 0,
  rounds: cpuRounds.map(() => 1),
});

const samples = (rssByRuns: [number, number][]): RetentionSample[] => rssByRuns.map(([runs, rss]) => ({ runs, seconds: 0, rssBytes: rss, heapUsedBytes: 0 }));

describe("bench target checks", () => {
  it("takes CPU per request as bare Express's over the emulator's, the median of the rounds' ratios", () => {
    // Rounds: 100/125 = 0.8, 100/100 = 1, 90/100 = 0.9 -> median 0.9.
    const points = [http("express", [100, 100, 90]), http("emulator", [125, 100, 100])];
    expect(httpCpuRatio(points, "GET /pipelines/{id}")).toBeCloseTo(0.9);
    const [target] = checkTargets({ node: "", cpu: "", cores: 2, date: "", profile: "tiny", parameters: {}, http: { connections: 1, seconds: 1, points } });
    expect(target).toMatchObject({ met: true });
  });

  it("compares RSS from the first sample once the store is full, or after a tenth of the runs if later", () => {
    const rss = samples([[0, 50], [10, 80], [20, 100], [30, 105], [40, 109], [50, 104]]);
    const full = rssFlatness({ runs: 50, retainRuns: 20, samples: rss })!;
    expect(full).toMatchObject({ warmupRuns: 20, first: { runs: 20 }, max: { runs: 40 }, last: { runs: 50 } });
    expect(full.growth).toBeCloseTo(1.09);
    const tenth = rssFlatness({ runs: 300, retainRuns: 20, samples: samples([[0, 50], [20, 80], [30, 100], [100, 105], [300, 104]]) })!;
    expect(tenth).toMatchObject({ warmupRuns: 30, first: { runs: 30 } });
    expect(tenth.growth).toBeCloseTo(1.05);
    expect(tenth.growthSinceFull).toBeCloseTo(105 / 80);
  });

  it("misses the RSS target when memory keeps growing", () => {
    const flat = rssFlatness({ runs: 100, retainRuns: 10, samples: samples([[10, 100], [50, 110], [100, 125]]) })!;
    expect(flat.growth).toBeCloseTo(1.25);
  });
});
