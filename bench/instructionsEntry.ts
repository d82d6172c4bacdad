/**
 * What bench/instructions.ts counts: `rounds` rounds of the engine (or the baseline) at 0-ms stages.
 * `node instructions-entry.mjs engine|baseline <workers> <pipelines> <runs> <rounds>`
 */
import { measureBaseline } from "./baseline.ts";
import { measureEngineRate } from "./engine.ts";

const [what, ...numbers] = process.argv.slice(2);
const [workers, pipelines, runs, rounds] = numbers.map(Number) as [number, number, number, number];
const measure = what === "baseline" ? measureBaseline : measureEngineRate;
for (let round = 0; round < rounds; round++) await measure(workers, pipelines, runs);
