import { build } from "esbuild";
for (const n of ["schemas", "middy", "endpoint", "full"]) {
  await build({ entryPoints: [`/tmp/cs/src/${n}.ts`], outfile: `/tmp/cs/out/handlers/${n}.mjs`, bundle: true, format: "esm", platform: "node", target: "node20", minify: true,
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }, external: ["pg-native"], logLevel: "error" });
}
