#!/usr/bin/env node
// The `stagerunner` executable: runs the TypeScript sources through tsx's loader (Node 20 cannot strip types itself).
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
