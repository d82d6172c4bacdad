/**
 * `npm run build`: one minified ESM bundle per handler (dist/handlers/<name>.mjs, each exporting
 * `handler`, with a source map), ready for any Lambda-like runtime. Prints every bundle's size against
 * the 250 KB budget and exits 1 when one is over.
 */
import { mkdir, rm } from "node:fs/promises";
import { basename } from "node:path";
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
  await rm(`${outdir}/handlers`, { recursive: true, force: true });
  await mkdir(`${outdir}/handlers`, { recursive: true });
  const result = await build({
    entryPoints: bundleNames().map((name) => `${root}handlers/${name}.ts`),
    outdir: `${outdir}/handlers`,
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
  return sizes(result.metafile);
}

function sizes(metafile: Metafile): BundleSize[] {
  return Object.entries(metafile.outputs)
    .filter(([path]) => path.endsWith(".mjs"))
    .map(([path, output]) => ({ name: basename(path, ".mjs"), bytes: output.bytes }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const built = await buildBundles();
  let over = 0;
  for (const { name, bytes } of built) {
    const flag = bytes > BUNDLE_BUDGET ? "  OVER BUDGET" : "";
    if (flag) over++;
    console.log(`dist/handlers/${name}.mjs  ${(bytes / 1024).toFixed(1)} KB${flag}`);
  }
  console.log(`${built.length} bundles, budget ${BUNDLE_BUDGET / 1024} KB each`);
  if (over) process.exit(1);
}
