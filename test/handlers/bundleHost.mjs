// A fresh node process that loads built bundles the way a Lambda runtime does (plain node, no tsx, no
// test module graph) and invokes their `handler` on request. Plain .mjs: node runs it as it is.
//
// stdin, one JSON object a line: {id, bundle, event, remainingMs?} invokes; {id, bundle} alone reports
// the bundle's exports. stdout: one line per request, "@@host " + {id, result} | {id, exports} |
// {id, error}. Each bundle is imported once and stays loaded, as in a warm function instance.
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const loaded = new Map();
const load = (path) => {
  if (!loaded.has(path)) loaded.set(path, import(pathToFileURL(path).href));
  return loaded.get(path);
};

/** What the runtime passes: a fresh context per invocation, with a deadline. */
function context(bundle, id, remainingMs) {
  const deadline = Date.now() + remainingMs;
  return {
    awsRequestId: `req-${id}`,
    functionName: bundle,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

async function answer({ id, bundle, event, remainingMs = 30_000 }) {
  try {
    const module = await load(bundle);
    if (event === undefined) return { id, exports: Object.keys(module).sort(), handler: typeof module.handler };
    return { id, result: await module.handler(event, context(bundle, id, remainingMs)) };
  } catch (error) {
    return { id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

const lines = createInterface({ input: process.stdin });
// Requests are answered one at a time, in order, as one instance serves one invocation at a time.
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => process.stdout.write(`@@host ${JSON.stringify(await answer(JSON.parse(line)))}\n`));
});
// Stores may hold connections open: the parent closing stdin is the end.
lines.on("close", () => void queue.then(() => process.exit(0)));
