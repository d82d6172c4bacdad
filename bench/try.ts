import { measurePoint } from "./engine.ts";
import { measureBaseline } from "./baseline.ts";
await measurePoint(8, 64, 0, 20000);
const xs = [], bs = [];
for (let rep = 0; rep < 5; rep++) {
  xs.push((await measurePoint(8, 64, 0, 20000)).runsPerSecond);
  bs.push(await measureBaseline(8, 64, 20000));
}
xs.sort((a, b) => a - b); bs.sort((a, b) => a - b);
console.log("engine median", Math.round(xs[2]!), "baseline median", Math.round(bs[2]!), "ratio", (xs[2]! / bs[2]!).toFixed(4));
