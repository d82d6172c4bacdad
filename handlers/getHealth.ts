/** GET /healthz: for probes, no token. */
import { endpoint } from "../lib/http/endpoint.ts";

export const handler = endpoint(async () => ({ status: 200, body: { status: "ok" } }), { auth: false });
