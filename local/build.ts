/**
 * `npm run build`: one minified ESM bundle per handler (dist/handlers/<name>.mjs, each exporting
 * `handler`, with a source map), ready for any Lambda-like runtime, and dist/app.mjs serving every
 * route from one function. Prints every bundle's size against
 * the 250 KB budget and exits 1 when one is over.
 */
import { mkdir, rm } from "node:fs/promises";
import { basename, relative, resolve } from "node:path";
import { build, type Metafile, type Plugin } from "esbuild";
import { routes } from "../handlers/routes.ts";

/** Largest bundle accepted, bytes. */
export const BUNDLE_BUDGET = 250 * 1024;

const root = new URL("..", import.meta.url).pathname;

/** The handler files that become functions: every route's, and the scheduled worker. */
export const bundleNames = (): string[] => [...new Set(routes.map((r) => r.name)), "runWorker"];

/**
 * pg's index requires ./native, its client over the pg-native addon, only for pg.native or
 * NODE_PG_FORCE_NATIVE. Without pg-native (external, not shipped) that client cannot load, so it
 * stays out too (8.5 KB of each bundle); its require fails as before and pg.native is null.
 */
const pgNativeClientExternal: Plugin = {
  name: "pg-native-client-external",
  setup(build) {
    build.onResolve({ filter: /^\.\/native$/ }, ({ path, importer }) => (/[\\/]pg[\\/]lib[\\/]index\.js$/.test(importer) ? { path, external: true } : undefined));
  },
};

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
    plugins: [pgNativeClientExternal],
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
