import { measurePoint } from "./engine.ts";
for (const [w, p] of [[1, 1], [8, 64], [64, 64]]) {
  const r = await measurePoint(w!, p!, 5, Math.min(w!, p!) * 40);
  console.log(w, p, Math.round(r.runsPerSecond), r.efficiency?.toFixed(3));
}
