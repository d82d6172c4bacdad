/**
 * Ids. Stores name pipelines and runs with time-ordered UUIDs (version 7, RFC 9562), so that
 * PostgreSQL's primary-key index grows at one end; claim tokens are random (version 4).
 */
import { randomUUID } from "node:crypto";
import { v7 } from "uuid";

/** Makes an id; `now`, when given, is the time of what it names (a time-ordered id uses it). */
export type IdGenerator = (now?: number) => string;

export const randomId: IdGenerator = () => randomUUID();

export const timeOrderedId: IdGenerator = (now) => (now === undefined ? v7() : v7({ msecs: Math.max(0, Math.floor(now)) }));
