// The Proxmox VE API schema (apidata subset, 9.1 or 8.4): routing, parameter checks with PVE's messages, and return checks.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { checkNamedFormat } from "./formats.js";

export type PveVersion = "9.1" | "8.4";

/** One parameter or return definition, as apidata.js spells it. */
export interface PveSchema {
  type?: string;
  format?: string | Record<string, PveSchema>;
  optional?: number;
  enum?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minLength?: number;
  default_key?: number;
  items?: PveSchema;
  properties?: Record<string, PveSchema>;
  additionalProperties?: number | boolean | PveSchema;
  typetext?: string;
  alias?: string;
}

export interface PveMethodInfo {
  method: string;
  name: string;
  parameters: { additionalProperties?: number; properties?: Record<string, PveSchema> };
  returns: PveSchema;
}

interface PveNode {
  path: string;
  info: Record<string, PveMethodInfo>;
}

export interface PveRoute {
  /** The schema path template, e.g. `/nodes/{node}/lxc/{vmid}`. */
  template: string;
  info: PveMethodInfo;
  pathParams: Record<string, string>;
}

export type RouteResult = { ok: true; route: PveRoute } | { ok: false; status: 501; message: string };

export interface PveApiSchema {
  version: PveVersion;
  /** Finds the method for a path below `/api2/json`. */
  route(method: string, path: string): RouteResult;
  /** Every `METHOD template` the schema declares. */
  operations(): string[];
}

/** Per-parameter errors, keyed by wire name, with PVE's JSONSchema.pm wording. */
export type ParamErrors = Record<string, string>;

/** Values after the check: integers and numbers as numbers, booleans as 0/1, strings as given. */
export type PveParams = Record<string, string | number>;

const FILES: Record<PveVersion, string> = { "9.1": "pve-api-subset.json", "8.4": "pve-api-subset-pve8.json" };

/** Where the vendored reference files live (verbatim copies of ../shared/reference). */
export function referenceDir(): string {
  return fileURLToPath(new URL("../reference/", import.meta.url));
}

/** Loads the PVE schema of one version from the reference JSON; nothing is hand-copied. */
export function loadPveSchema(version: PveVersion, dir = referenceDir()): PveApiSchema {
  const raw = JSON.parse(readFileSync(dir + FILES[version], "utf8")) as { endpoints: PveNode[]; related_endpoints: PveNode[] };
  // The endpoints `proxstack doctor` and backup deletion need beyond the vendored subset (supplement.json says where they come from).
  const extra = JSON.parse(readFileSync(new URL("./supplement.json", import.meta.url), "utf8")) as { endpoints: PveNode[] };
  const nodes = [...raw.endpoints, ...raw.related_endpoints, ...extra.endpoints];
  const compiled = nodes.map((n) => ({
    node: n,
    segments: n.path.split("/").filter(Boolean),
  }));
  return {
    version,
    route(method, path) {
      const parts = path.split("/").filter(Boolean).map(safeDecode);
      for (const c of compiled) {
        if (c.segments.length !== parts.length) continue;
        const params: Record<string, string> = {};
        let match = true;
        c.segments.forEach((seg, i) => {
          const part = parts[i] ?? "";
          if (seg.startsWith("{")) params[seg.slice(1, -1)] = part;
          else if (seg !== part) match = false;
        });
        if (!match) continue;
        const info = c.node.info[method.toUpperCase()];
        if (!info) break;
        return { ok: true, route: { template: c.node.path, info, pathParams: params } };
      }
      return { ok: false, status: 501, message: `Method '${method.toUpperCase()} ${path}' not implemented` };
    },
    operations() {
      return nodes.flatMap((n) => Object.keys(n.info).map((m) => `${m} ${n.path}`));
    },
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const INDEX_LIMITS: Record<string, number> = { net: 32, mp: 256, dev: 256, unused: 256 };

/** The schema entry for a wire name, expanding `net[n]` style names (net0…net31, mp0…mp255). */
export function lookupProperty(props: Record<string, PveSchema>, name: string): PveSchema | undefined {
  const direct = props[name];
  if (direct) return direct;
  const m = /^([a-z]+)(\d+)$/.exec(name);
  if (!m) return undefined;
  const [, base = "", idx = ""] = m;
  const limit = INDEX_LIMITS[base];
  if (limit === undefined || Number(idx) >= limit || String(Number(idx)) !== idx) return undefined;
  return props[`${base}[n]`];
}

/** Converts a Perl regex from apidata (`(?^:…)` wrappers) into an anchored JS RegExp. */
export function perlPattern(p: string): RegExp {
  return new RegExp(`^(?:${p.replaceAll("(?^:", "(?:")})$`);
}

const NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties";
const MISSING = "property is missing and it is not optional";

/**
 * Checks request parameters the way PVE's JSONSchema.pm does. `raw` holds wire values: strings
 * from a query or form body, or JSON values from a JSON body (`json` true).
 */
export function checkParams(info: PveMethodInfo, raw: Record<string, unknown>, json: boolean): { params: PveParams; errors: ParamErrors } {
  const props = info.parameters.properties ?? {};
  const errors: ParamErrors = {};
  const params: PveParams = {};
  for (const [name, value] of Object.entries(raw)) {
    const schema = lookupProperty(props, name);
    if (!schema) {
      if (info.parameters.additionalProperties !== 1) errors[name] = NOT_IN_SCHEMA;
      continue;
    }
    const r = checkValue(schema, value, json, name);
    if (typeof r === "object") errors[name] = r.error;
    else params[name] = r;
  }
  for (const [name, schema] of Object.entries(props)) {
    if (schema.optional === 1 || name.endsWith("[n]")) continue;
    if (!(name in raw) && errors[name] === undefined) errors[name] = MISSING;
  }
  return { params, errors };
}

type Checked = string | number | { error: string };

/** Checks one value against a parameter schema; returns the typed value or an error message. */
export function checkValue(schema: PveSchema, value: unknown, json: boolean, name: string): Checked {
  const type = schema.type ?? "string";
  let v: string | number;
  if (type === "boolean") {
    if (json && typeof value === "boolean") v = value ? 1 : 0;
    else if (value === 0 || value === 1 || value === "0" || value === "1") v = Number(value);
    else return { error: `type check ('boolean') failed - got '${String(value)}'` };
  } else if (type === "integer") {
    const s = String(value);
    if ((typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^[+-]?\d+$/.test(s))) v = Number(s);
    else return { error: `type check ('integer') failed - got '${s}'` };
  } else if (type === "number") {
    const s = String(value);
    if ((typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)))
      v = Number(s);
    else return { error: `type check ('number') failed - got '${s}'` };
  } else if (type === "string") {
    if (typeof value === "object" && value !== null) return { error: `type check ('string') failed - got ${Array.isArray(value) ? "ARRAY" : "HASH"}` };
    v = String(value);
  } else if (type === "array") {
    // exclude-path style arrays arrive as repeated keys; the simulator keeps them as one string.
    v = Array.isArray(value) ? value.map(String).join("\n") : String(value);
    return v;
  } else {
    v = String(value);
  }
  if (typeof v === "number") {
    if (schema.minimum !== undefined && v < schema.minimum) return { error: `value must have a minimum value of ${schema.minimum}` };
    if (schema.maximum !== undefined && v > schema.maximum) return { error: `value must have a maximum value of ${schema.maximum}` };
    return v;
  }
  if (schema.maxLength !== undefined && v.length > schema.maxLength) return { error: `value may only be ${schema.maxLength} characters long` };
  if (schema.minLength !== undefined && v.length < schema.minLength) return { error: `value must be at least ${schema.minLength} characters long` };
  if (schema.enum && !schema.enum.includes(v)) return { error: `value '${v}' does not have a value in the enumeration '${schema.enum.join(", ")}'` };
  if (schema.pattern && !perlPattern(schema.pattern).test(v)) return { error: "value does not match the regex pattern" };
  if (typeof schema.format === "object") {
    const parsed = parsePropertyString(schema.format, v, name);
    if ("error" in parsed) return { error: parsed.error };
  } else if (typeof schema.format === "string") {
    const err = checkNamedFormat(schema.format, v);
    if (err) return { error: err };
  }
  return v;
}

/**
 * Parses a property string (`name=eth0,bridge=vmbr0,ip=10.0.0.5/24`) against its sub-schema,
 * with the `default_key` allowed bare. Errors read like PVE's `invalid format - …`.
 */
export function parsePropertyString(
  format: Record<string, PveSchema>,
  text: string,
  name = "value",
): { values: Record<string, string | number> } | { error: string } {
  const values: Record<string, string | number> = {};
  const defaultKey = Object.entries(format).find(([, s]) => s.default_key === 1)?.[0];
  const fail = (msg: string) => ({ error: `invalid format - format error\n${msg}` });
  for (const part of text.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    let key: string;
    let val: string;
    if (eq < 0) {
      if (!defaultKey || values[defaultKey] !== undefined) return { error: `invalid format - missing key in comma-separated list property` };
      key = defaultKey;
      val = part;
    } else {
      key = part.slice(0, eq);
      val = part.slice(eq + 1);
    }
    if (values[key] !== undefined) return { error: `invalid format - duplicate key in comma-separated list property: ${key}` };
    const sub = format[key];
    if (!sub) return fail(`${name}.${key}: ${NOT_IN_SCHEMA}`);
    const r = checkValue(sub, val, false, `${name}.${key}`);
    if (typeof r === "object") return fail(`${name}.${key}: ${r.error}`);
    values[key] = r;
  }
  for (const [key, sub] of Object.entries(format)) {
    if (sub.optional !== 1 && values[key] === undefined) return fail(`${name}.${key}: ${MISSING}`);
  }
  return { values };
}

/** Renders parsed property-string values back in PVE's canonical order (default key first). */
export function printPropertyString(format: Record<string, PveSchema>, values: Record<string, string | number>): string {
  const defaultKey = Object.entries(format).find(([, s]) => s.default_key === 1)?.[0];
  const parts: string[] = [];
  if (defaultKey && values[defaultKey] !== undefined) parts.push(String(values[defaultKey]));
  for (const key of Object.keys(format).sort()) {
    if (key === defaultKey || values[key] === undefined) continue;
    parts.push(`${key}=${values[key]}`);
  }
  return parts.join(",");
}

/**
 * Checks a response `data` value against a method's `returns`. Booleans may be 0/1 (PVE sends
 * integers). Returns violations as `path: message`; empty means it conforms.
 */
export function checkReturn(schema: PveSchema, value: unknown, path = "data"): string[] {
  const out: string[] = [];
  const type = schema.type;
  if (value === null || value === undefined) {
    if (type && type !== "null") out.push(`${path}: expected ${type}, got null`);
    return out;
  }
  switch (type) {
    case "null":
      out.push(`${path}: expected null`);
      break;
    case "string":
      if (typeof value !== "string") out.push(`${path}: expected string, got ${typeof value}`);
      else if (schema.enum && !schema.enum.includes(value)) out.push(`${path}: '${value}' not in enum`);
      break;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) out.push(`${path}: expected integer, got ${JSON.stringify(value)}`);
      break;
    case "number":
      if (typeof value !== "number") out.push(`${path}: expected number, got ${JSON.stringify(value)}`);
      break;
    case "boolean":
      if (value !== 0 && value !== 1 && value !== true && value !== false) out.push(`${path}: expected boolean, got ${JSON.stringify(value)}`);
      break;
    case "array":
      if (!Array.isArray(value)) out.push(`${path}: expected array`);
      else if (schema.items) value.forEach((v, i) => out.push(...checkReturn(schema.items as PveSchema, v, `${path}[${i}]`)));
      break;
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) {
        out.push(`${path}: expected object`);
        break;
      }
      const rec = value as Record<string, unknown>;
      const props = schema.properties ?? {};
      for (const [k, v] of Object.entries(rec)) {
        const s = lookupProperty(props, k);
        if (s) out.push(...checkReturn(s, v, `${path}.${k}`));
        else if (schema.additionalProperties === 0) out.push(`${path}.${k}: not in schema`);
      }
      for (const [k, s] of Object.entries(props)) {
        if (s.optional !== 1 && !k.endsWith("[n]") && rec[k] === undefined) out.push(`${path}.${k}: required but missing`);
      }
      break;
    }
    default:
      break;
  }
  return out;
}
