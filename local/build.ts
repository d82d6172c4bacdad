/**
 * `npm run build`: one minified ESM bundle per handler (dist/handlers/<name>.mjs, each exporting
 * `handler`, with a source map), ready for any Lambda-like runtime, and dist/app.mjs serving every
 * route from one function. Prints every bundle's size against
 * the 250 KB budget and exits 1 when one is over.
 */
import { mkdir, rm } from "node:fs/promises";
import { basename, relative, resolve } from "node:path";
import { build, type Metafile } from "esbuild";
import { routes } from "../handlers/routes.ts";

/** Largest bundle accepted, bytes. */
export const BUNDLE_BUDGET = 250 * 1024;

const root = new URL("..", import.meta.url).pathname;

/** The handler files that become functions: every route's, and the scheduled worker. */
export const bundleNames = (): string[] => [...new Set(routes.map((r) => r.name)), "runWorker"];

export interface BundleSize {
  name: string;
  bytes: number;
}

/** Builds dist/handlers/*.mjs; returns the size of each bundle. */
export async function buildBundles(outdir = `${root}dist`): Promise<BundleSize[]> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(`${outdir}/handlers`, { recursive: true });
  const entryPoints = [
    ...bundleNames().map((name) => ({ in: `${root}handlers/${name}.ts`, out: `handlers/${name}` })),
    // The one-function app: every route through serverless-http.
    { in: `${root}local/lambdaApp.ts`, out: "app" },
  ];
  const result = await build({
    entryPoints,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    sourcemap: true,
    metafile: true,
    legalComments: "none",
    // CommonJS inside an ESM bundle (pg, middy's dependencies) calls require(): give it one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // pg loads pg-native only when asked for it; it is a native addon and stays out.
    external: ["pg-native"],
    logLevel: "warning",
  });
  return sizes(result.metafile, outdir);
}

/** Sizes by name relative to `outdir` (`handlers/getRun`, `app`). */
function sizes(metafile: Metafile, outdir: string): BundleSize[] {
  return Object.entries(metafile.outputs)
    .filter(([path]) => path.endsWith(".mjs"))
    .map(([path, output]) => ({ name: relative(outdir, resolve(path)).replace(/\.mjs$/, ""), bytes: output.bytes }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const built = await buildBundles();
  let over = 0;
  for (const { name, bytes } of built) {
    // The budget is the per-route functions'; the one-function app carries Express and is reported only.
    const flag = name.startsWith("handlers/") && bytes > BUNDLE_BUDGET ? "  OVER BUDGET" : "";
    if (flag) over++;
    console.log(`dist/${name}.mjs  ${(bytes / 1024).toFixed(1)} KB${flag}`);
  }
  console.log(`${built.length} bundles; budget ${BUNDLE_BUDGET / 1024} KB for each per-route function`);
  if (over) process.exit(1);
}
