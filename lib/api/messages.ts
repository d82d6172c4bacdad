/**
 * The project's wording for every validation issue a schema does not word itself, naming the field by
 * its path ("command must be a string", "status must be one of queued, running, ..."). Installed in
 * place of zod's English locale, whose messages ("Too small: expected string to have >=1 characters")
 * are zod's, not the API's; schemas word what needs more (a git ref, a whole number).
 */
import type * as z from "zod/mini";

/** How an expected type reads after "must be". */
const EXPECTED: Record<string, string> = { object: "an object", record: "an object", array: "an array", int: "a whole number", undefined: "left out" };

/** The field an issue is about: its last named path segment ("logs", not "0"), or "value" at the root. */
function field(path: readonly PropertyKey[] | undefined): string {
  for (let i = (path?.length ?? 0) - 1; i >= 0; i--) if (typeof path![i] === "string") return path![i] as string;
  return "value";
}

/** What a length or size limit counts. */
const unit = (origin: string): string => (origin === "string" ? " characters" : origin === "array" ? " items" : "");

export function projectMessage(issue: z.core.$ZodRawIssue): string {
  const name = field(issue.path);
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return `${name} is required`;
      return `${name} must be ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}`;
    case "invalid_value":
      return `${name} must be one of ${issue.values.map(String).join(", ")}`;
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) <= 1) return `${name} must not be empty`;
      return `${name} must be at least ${issue.minimum}${unit(issue.origin)}`;
    case "too_big":
      return `${name} must be at most ${issue.maximum}${unit(issue.origin)}`;
    case "invalid_format":
      return `${name} must be ${issue.format === "uuid" ? "a UUID" : `a valid ${issue.format}`}`;
    case "unrecognized_keys":
      return `unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`;
    default:
      return `${name} is invalid`;
  }
}
