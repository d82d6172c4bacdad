/**
 * The SAM template held against the route table: a function per route with its method, path and
 * handler, nothing the table does not have, the worker on a schedule, and every setting it passes
 * one that the code reads.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, type CollectionTag, type ScalarTag } from "yaml";
import { routes } from "../../handlers/routes.ts";
import { serverSettings } from "../../lib/config/serverSettings.ts";
import { bundleNames } from "../../local/build.ts";

const templatePath = new URL("../../handlers/template.yaml", import.meta.url).pathname;
const repoRoot = new URL("../..", import.meta.url).pathname;

/**
 * CloudFormation's short-form intrinsics (!Ref, !Sub, ...) as their long forms, so the parser
 * accepts them and the test can see what they refer to.
 */
const intrinsics = ["Ref", "Condition", ...["Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub", "Transform", "And", "Equals", "If", "Not", "Or"].map((f) => `Fn::${f}`)];
const customTags = intrinsics.flatMap((name): (ScalarTag | CollectionTag)[] => {
  const tag = `!${name.replace("Fn::", "")}`;
  // !GetAtt's scalar form is "Resource.Attribute"; its long form is a list.
  const scalar = (value: string) => ({ [name]: name === "Fn::GetAtt" ? value.split(".") : value });
  return [
    { tag, resolve: scalar },
    { tag, collection: "seq", resolve: (seq) => ({ [name]: seq.toJSON() }) },
    { tag, collection: "map", resolve: (map) => ({ [name]: map.toJSON() }) },
  ];
});

interface Event {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Resource {
  Type: string;
  Properties: Record<string, any>;
}
interface Template {
  Transform: string;
  Parameters: Record<string, { Type: string; Default?: string; NoEcho?: boolean }>;
  Globals?: { Function?: Record<string, any> };
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Value: unknown }>;
}

const template = parse(readFileSync(templatePath, "utf8"), { customTags }) as Template;

/** A function's properties as SAM sees them: Globals under its own, environment variables merged. */
function effective(fn: Resource): Record<string, any> {
  const globals = template.Globals?.Function ?? {};
  const variables = { ...globals.Environment?.Variables, ...fn.Properties.Environment?.Variables };
  return { ...globals, ...fn.Properties, Environment: { Variables: variables } };
}

const functions = Object.entries(template.Resources)
  .filter(([, r]) => r.Type === "AWS::Serverless::Function")
  .map(([id, r]) => ({ id, props: effective(r), events: Object.values((r.Properties.Events ?? {}) as Record<string, Event>) }));
const nameOf = (handler: string) => handler.replace(/\.handler$/, "");
const httpEvents = (fn: (typeof functions)[number]) => fn.events.filter((e) => e.Type === "HttpApi");
const worker = functions.find((fn) => fn.props.Handler === "runWorker.handler");
const apiFunctions = functions.filter((fn) => fn !== worker);
const ref = (value: unknown) => (value as { Ref?: string }).Ref;

describe("handlers/template.yaml", () => {
  it("is a SAM template", () => {
    expect(template.Transform).toBe("AWS::Serverless-2016-10-31");
  });

  it("has exactly one function per route, with the route's method, path and handler", () => {
    for (const route of routes) {
      const matching = functions.filter((fn) => httpEvents(fn).some((e) => e.Properties.Method === route.method && e.Properties.Path === route.path));
      expect(matching.map((fn) => fn.props.Handler), `${route.method} ${route.path}`).toEqual([`${route.name}.handler`]);
    }
  });

  it("has no function or HttpApi event that the route table does not have", () => {
    expect(functions.map((fn) => nameOf(fn.props.Handler)).sort()).toEqual([...routes.map((r) => r.name), "runWorker"].sort());
    const events = functions.flatMap((fn) => httpEvents(fn).map((e) => `${e.Properties.Method} ${e.Properties.Path} -> ${nameOf(fn.props.Handler)}`));
    expect(events.sort()).toEqual(routes.map((r) => `${r.method} ${r.path} -> ${r.name}`).sort());
    for (const fn of apiFunctions) expect(fn.events, fn.id).toHaveLength(1);
  });

  it("runs the worker on a schedule, never from HTTP, with a longer timeout", () => {
    expect(worker).toBeDefined();
    expect(worker!.events.map((e) => e.Type)).toEqual(["Schedule"]);
    const schedule = worker!.events[0]!.Properties.Schedule;
    const expression = ref(schedule) ? template.Parameters[ref(schedule)!]?.Default : schedule;
    expect(expression).toMatch(/^(rate|cron)\(.+\)$/);
    expect(worker!.props.Timeout).toBeGreaterThan(Math.max(...apiFunctions.map((fn) => fn.props.Timeout as number)));
  });

  it("points every Handler at a bundle that npm run build writes, in the CodeUri it ships", () => {
    const built = bundleNames();
    for (const fn of functions) {
      expect(fn.props.Handler, fn.id).toMatch(/^\w+\.handler$/);
      expect(built, fn.id).toContain(nameOf(fn.props.Handler));
      expect(fn.props).toMatchObject({ Runtime: "nodejs20.x", Architectures: [expect.any(String)], MemorySize: expect.any(Number), Timeout: expect.any(Number) });
      // SAM resolves a local CodeUri against the template's folder.
      expect(resolve(dirname(templatePath), fn.props.CodeUri), fn.id).toBe(resolve(repoRoot, "dist/handlers"));
    }
  });

  it("serves every route through the one HttpApi, whose stage is a parameter defaulting to prod", () => {
    expect(template.Resources.HttpApi?.Type).toBe("AWS::Serverless::HttpApi");
    expect(template.Parameters[ref(template.Resources.HttpApi!.Properties.StageName)!]?.Default).toBe("prod");
    for (const fn of apiFunctions) for (const e of httpEvents(fn)) expect(ref(e.Properties.ApiId), fn.id).toBe("HttpApi");
    expect(JSON.stringify(template.Outputs.ApiUrl?.Value)).toMatch(/\$\{HttpApi\}\.execute-api\..*\/\$\{StageName\}/);
  });

  it("gives API functions DATABASE_URL and the token from secret parameters, the worker no token", () => {
    for (const fn of apiFunctions) {
      const variables = fn.props.Environment.Variables;
      for (const name of ["DATABASE_URL", "STAGERUNNER_TOKEN"]) {
        const parameter = ref(variables[name]);
        expect(parameter, `${fn.id} ${name}`).toBeDefined();
        expect(template.Parameters[parameter!]?.NoEcho, `${parameter} is a secret`).toBe(true);
      }
    }
    expect(ref(worker!.props.Environment.Variables.DATABASE_URL)).toBe("DatabaseUrl");
    expect(worker!.props.Environment.Variables.STAGERUNNER_TOKEN).toBeUndefined();
    expect(worker!.props.Environment.Variables.STAGERUNNER_STORE).toBeUndefined();
  });

  it("lets a request that waits for a busy database pool give up in time to answer 503, inside the function's timeout", () => {
    for (const fn of functions) {
      const waitMs = Number(fn.props.Environment.Variables.STAGERUNNER_DB_POOL_WAIT_MS);
      expect(waitMs, fn.id).toBeGreaterThan(0);
      expect(waitMs, fn.id).toBeLessThanOrEqual((Number(fn.props.Timeout) * 1000) / 2);
    }
  });

  it("sets only variables the code reads, each from a parameter that exists (with a default unless secret)", () => {
    const known = new Set(["NODE_OPTIONS", ...Object.values(serverSettings).flatMap((s) => [s.env, s.fallbackEnv ?? s.env])]);
    for (const fn of functions) {
      for (const [name, value] of Object.entries(fn.props.Environment.Variables as Record<string, unknown>)) {
        expect(known, `${fn.id} sets ${name}`).toContain(name);
        if (typeof value === "string") continue;
        const parameter = template.Parameters[ref(value)!];
        expect(parameter, `${fn.id} ${name}`).toBeDefined();
        expect(parameter!.NoEcho || parameter!.Default !== undefined, `${ref(value)} needs a default`).toBe(true);
      }
    }
  });

  it("refers only to parameters and resources it defines", () => {
    const refs = [...JSON.stringify([template.Globals, template.Resources]).matchAll(/"Ref":"(\w+)"/g)].map((m) => m[1]!);
    const subs = [...JSON.stringify(template.Outputs).matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!);
    for (const name of [...refs, ...subs]) expect(Object.keys({ ...template.Parameters, ...template.Resources }), name).toContain(name);
  });
});
