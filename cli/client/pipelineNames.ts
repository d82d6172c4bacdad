/**
 * Pipelines by name: wherever a command takes a pipeline id it also takes the pipeline's name, and
 * `list-runs` shows names. Names are not unique on the server, so a name that several pipelines share
 * is refused with their ids rather than guessed.
 */
import type { Pipeline } from "../../lib/api/schemas.ts";
import type { StagerunnerApi } from "./api.ts";
import { CommandError } from "./errors.ts";
import { isId, normalId } from "./ids.ts";

/** Every pipeline, read once per command: all pages at the largest page size. */
export class PipelineNames {
  private all: Promise<Pipeline[]> | undefined;

  constructor(private readonly api: StagerunnerApi) {}

  /** The id of the pipeline `ref` names: `ref` itself when it is an id, else the one pipeline of that name. */
  async resolve(ref: string): Promise<string> {
    if (isId(ref)) return normalId(ref);
    const named = (await this.list()).filter((p) => p.name === ref);
    if (named.length === 1) return named[0]!.id;
    if (named.length === 0) throw new CommandError(`no pipeline named ${ref}`);
    throw new CommandError(`${named.length} pipelines are named ${ref}; give one of their ids: ${named.map((p) => p.id).join(", ")}`);
  }

  /** Pipeline id -> name. */
  async byId(): Promise<Map<string, string>> {
    return new Map((await this.list()).map((p) => [p.id, p.name]));
  }

  private list(): Promise<Pipeline[]> {
    return (this.all ??= (async () => {
      const pipelines: Pipeline[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.api.listPipelines({ limit: 1000, ...(cursor ? { cursor } : {}) });
        pipelines.push(...page.items);
        cursor = page.next;
      } while (cursor);
      return pipelines;
    })());
  }
}
