// Turning zod issues into positioned errors in plain words, with the allowed values and keys.
import type { z } from "zod";
import type { DataPath, YamlSource } from "./yaml-source.js";
import type { PositionedError } from "./positioned-error.js";

/** Marks a message zod made up itself, so the schema's own wording wins wherever it has one. */
export const DEFAULT_MESSAGE = "\u0000default";

/** The per-parse error map: defer to this module's wording unless the schema says more. */
export const deferMessages = (): string => DEFAULT_MESSAGE;

type Issue = z.core.$ZodIssue;

/** `instances[0].domains[1].port`; the empty path is "the file". */
export function fieldLabel(path: DataPath): string {
  if (path.length === 0) return "the file";
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out === "" ? seg : `.${seg}`;
  return out;
}

/** Converts zod issues of `schema` (checked against `source.data`) into positioned errors. */
export function issuesToErrors(source: YamlSource, schema: z.ZodType, issues: readonly Issue[], base: DataPath = []): PositionedError[] {
  const out: PositionedError[] = [];
  // Issues of a union branch are relative to the branch: keys are looked up in its schema.
  const rel = (p: DataPath) => p.slice(base.length);
  for (const issue of issues) {
    const path = [...base, ...(issue.path as (string | number)[])];
    const push = (at: DataPath, message: string, key = false) => {
      const { line, col } = source.locate(at, { key });
      out.push({ path: source.path, line, col, message, code: `schema.${issue.code}` });
    };
    switch (issue.code) {
      case "unrecognized_keys": {
        const value = valueAt(source.data, path);
        const known = value !== null && typeof value === "object" ? Object.keys(value).filter((k) => !issue.keys.includes(k)) : [];
        const allowed = allowedKeys(schema, rel(path), known);
        for (const k of issue.keys) {
          if (k === "<<") {
            push([...path, k], `${fieldLabel(path)} uses a YAML merge key (<<), which stack files do not support; write the keys out`, true);
            continue;
          }
          const hint = suggest(k, allowed);
          push(
            [...path, k],
            `${fieldLabel(path)} has an unknown key ${JSON.stringify(k)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ""}; allowed keys are ${allowed.join(", ")}`,
            true,
          );
        }
        break;
      }
      case "invalid_union": {
        const best = pickBranch(issue.errors, path, source);
        const options = schemasAt(schema, rel(path));
        const forms = unionForms(options);
        const branch = best === undefined ? undefined : options[issue.errors.findIndex((e) => e === best)];
        if (
          best === undefined ||
          branch === undefined ||
          (forms && best.some((i) => i.path.length === 1 && isMissing(source, [...path, ...(i.path as (string | number)[])])))
        ) {
          push(path, `${fieldLabel(path)} must take one of these forms: ${forms ?? "see the schema"}`);
        } else {
          out.push(...issuesToErrors(source, branch, best, path));
        }
        break;
      }
      case "invalid_key": {
        const inner = issue.issues[0];
        const why = inner === undefined || inner.message === DEFAULT_MESSAGE ? "is not an allowed name" : inner.message;
        push(path, `${fieldLabel(path.slice(0, -1))} has a key ${JSON.stringify(String(path.at(-1)))} that ${why}`, true);
        break;
      }
      default: {
        if (isMissing(source, path)) {
          const parent = path.slice(0, -1);
          const allowed = issue.code === "invalid_value" ? `: ${oneOf(issue.values)}` : "";
          push(parent, `${fieldLabel(parent)} is missing the required key ${JSON.stringify(String(path.at(-1)))}${allowed}`);
        } else {
          const text = issue.message === DEFAULT_MESSAGE ? defaultText(issue, valueAt(source.data, path)) : issue.message;
          push(path, `${fieldLabel(path)} ${text}`);
        }
      }
    }
  }
  return out;
}

/**
 * One issue as a field's message without the field's name, for input that is not a stack file (the portal's request
 * bodies and query strings): the schema's own wording where it has one, else this module's; an absent key "is required".
 * Parse with `reportInput: true` so the message names the value as checked.
 */
export function issueText(issue: Issue, input: unknown): string {
  if (issue.message !== DEFAULT_MESSAGE) return issue.message;
  const path = issue.path as (string | number)[];
  const value = valueAt(input, path);
  if (path.length > 0 && value === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value")) {
    return issue.code === "invalid_value" ? `is required: ${oneOf(issue.values)}` : "is required";
  }
  if (issue.code === "invalid_union") return "does not take any of the accepted forms";
  // The value as checked (a query string's "0" coerced to 0) when the parse reported it, unless coercion made it NaN.
  const reported = issue.input;
  const checked = reported === undefined || (typeof reported === "number" && Number.isNaN(reported)) ? value : reported;
  return defaultText(issue, checked);
}

function isMissing(source: YamlSource, path: DataPath): boolean {
  return path.length > 0 && !source.locate(path).found && valueAt(source.data, path) === undefined;
}

/** The branch of a failed union that fits the input best: fewest unknown or missing keys, then fewest issues. */
function pickBranch(branches: readonly (readonly Issue[])[], base: DataPath, source: YamlSource): readonly Issue[] | undefined {
  let best: readonly Issue[] | undefined;
  let bestScore = Infinity;
  for (const issues of branches) {
    const shape = issues.filter(
      (i) =>
        (i.code === "unrecognized_keys" && i.path.length === 0) || (i.path.length === 1 && isMissing(source, [...base, ...(i.path as (string | number)[])])),
    ).length;
    const score = shape * 1000 + issues.length;
    if (score < bestScore) [best, bestScore] = [issues, score];
  }
  return best;
}

/** Default wording per issue code (used only where the schema gives none). */
function defaultText(issue: Issue, value: unknown): string {
  const got = describe(value);
  switch (issue.code) {
    case "invalid_type":
      return `must be ${typeName(issue.expected)}, not ${got}`;
    case "invalid_value":
      return `must be ${oneOf(issue.values)}, not ${got}`;
    case "too_small": {
      const n = issue.minimum.toString();
      if (issue.origin === "array" || issue.origin === "set") return `must list at least ${n} item${n === "1" ? "" : "s"}`;
      if (issue.origin === "string") return `must be at least ${n} characters long`;
      return issue.inclusive === false ? `must be greater than ${n}, not ${got}` : `must be at least ${n}, not ${got}`;
    }
    case "too_big": {
      const n = issue.maximum.toString();
      if (issue.origin === "array" || issue.origin === "set") return `must list at most ${n} items`;
      if (issue.origin === "string") return `must be at most ${n} characters long`;
      return issue.inclusive === false ? `must be less than ${n}, not ${got}` : `must be at most ${n}, not ${got}`;
    }
    case "invalid_format":
      if (issue.format === "datetime") return "must be an ISO 8601 date and time with a time zone, such as 2026-11-25T10:00:00Z";
      if (issue.format === "email") return "must be an e-mail address such as alice@example.com";
      return `must be in ${issue.format} format`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return "is not allowed here";
  }
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: "text",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a mapping of keys to values",
    record: "a mapping of keys to values",
  };
  return names[expected] ?? expected;
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length === 1 ? (shown[0] ?? "") : `one of ${shown.join(", ")}`;
}

/** A short description of a YAML value; long text is cut so keys or secrets are never echoed whole. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return "empty";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the text ${JSON.stringify(v.length > 32 ? `${v.slice(0, 29)}...` : v)}`;
  return String(v);
}

function valueAt(data: unknown, path: DataPath): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

// --- walking the zod schema along a data path (to name allowed keys and union forms) ---

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let d = defOf(cur); ; d = defOf(cur)) {
    if ((d.type === "optional" || d.type === "default" || d.type === "nullable" || d.type === "prefault") && d.innerType) cur = d.innerType;
    else if (d.type === "pipe" && d.in) cur = d.in;
    else return cur;
  }
}

/** The schemas that may describe the value at `path` (several below a union). */
function schemasAt(root: z.ZodType, path: DataPath): z.ZodType[] {
  let cur = [unwrap(root)];
  for (const seg of path) {
    const next: z.ZodType[] = [];
    for (const s of cur.flatMap(expandUnion)) {
      const d = defOf(s);
      if (d.type === "object" && d.shape && typeof seg === "string" && d.shape[seg]) next.push(unwrap(d.shape[seg]));
      else if (d.type === "array" && d.element) next.push(unwrap(d.element));
      else if (d.type === "record" && d.valueType) next.push(unwrap(d.valueType));
    }
    cur = next;
  }
  return cur.flatMap(expandUnion);
}

function expandUnion(s: z.ZodType): z.ZodType[] {
  const d = defOf(s);
  return d.type === "union" && d.options ? d.options.map(unwrap).flatMap(expandUnion) : [s];
}

/** Keys allowed at `path`; below a union, only of the forms that accept every key already `present`. */
function allowedKeys(root: z.ZodType, path: DataPath, present: readonly string[]): string[] {
  const shapes = schemasAt(root, path).map((s) => Object.keys(defOf(s).shape ?? {}));
  const fitting = shapes.filter((keys) => present.every((k) => keys.includes(k)));
  return [...new Set((fitting.length > 0 ? fitting : shapes).flat())];
}

/** "{clone} or {osTemplate, osType}": the required keys of each object form of a union. */
function unionForms(options: readonly z.ZodType[]): string | undefined {
  const forms = options
    .map((s) => defOf(s).shape)
    .filter((shape): shape is Record<string, z.ZodType> => shape !== undefined)
    .map(
      (shape) =>
        `{${Object.entries(shape)
          .filter(([, v]) => !v.safeParse(undefined).success)
          .map(([k]) => k)
          .join(", ")}}`,
    );
  return forms.length > 1 ? forms.join(" or ") : undefined;
}

/** The allowed key closest to a typo (edit distance at most 2), if any. */
function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d > 0 && d < bestD && d * 2 < key.length) [best, bestD] = [a, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length] ?? 3;
}
