// The Cloudflare OpenAPI subset, compiled with ajv: request bodies and 200 responses checked per operation.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { referenceDir } from "../proxmox/schema.js";

interface OpenApiOperation {
  operationId?: string;
  parameters?: { name?: string; in?: string; required?: boolean; schema?: unknown; $ref?: string }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, unknown> };
}

export interface CfOperation {
  method: string;
  template: string;
  operationId: string;
  pathParams: Record<string, string>;
  /** Query parameter names the spec declares. */
  query: string[];
}

export interface CfApiSchema {
  route(method: string, path: string): CfOperation | undefined;
  /** Problems with a request body (empty when it conforms; readOnly fields are not required). */
  checkRequest(op: CfOperation, body: unknown): string[];
  /** Problems with a 200 response body against the spec. */
  checkResponse(op: CfOperation, body: unknown): string[];
}

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

/** Names of properties the spec marks readOnly; a request need not send them. */
function readOnlyNames(doc: OpenApiDoc): Set<string> {
  const out = new Set<string>();
  const resolve = (s: unknown): Record<string, unknown> | undefined => {
    if (!s || typeof s !== "object") return undefined;
    const ref = (s as { $ref?: string }).$ref;
    if (ref) return doc.components.schemas[ref.replace("#/components/schemas/", "")] as Record<string, unknown> | undefined;
    return s as Record<string, unknown>;
  };
  const walk = (s: unknown) => {
    if (Array.isArray(s)) return s.forEach(walk);
    if (!s || typeof s !== "object") return;
    const props = (s as { properties?: Record<string, unknown> }).properties;
    if (props) for (const [k, v] of Object.entries(props)) if (resolve(v)?.readOnly === true) out.add(k);
    Object.values(s).forEach(walk);
  };
  walk(doc.components.schemas);
  return out;
}

function dropRequired(s: unknown, names: Set<string>, path: string[] = []): unknown {
  if (Array.isArray(s)) return s.map((x) => dropRequired(x, names, path));
  if (!s || typeof s !== "object") return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "required" && Array.isArray(v)) {
      // The catch-all ingress rule has no hostname although the spec requires one (README §3.2).
      const isIngressRule = path.at(-1) === "tunnel_ingressRule";
      out[k] = (v as string[]).filter((n) => !names.has(n) && !(isIngressRule && n === "hostname"));
    } else out[k] = dropRequired(v, names, [...path, k]);
  }
  return out;
}

/** Loads the Cloudflare subset from the reference JSON. */
export function loadCloudflareSchema(dir = referenceDir()): CfApiSchema {
  const doc = JSON.parse(readFileSync(dir + "cloudflare-api-subset.json", "utf8")) as OpenApiDoc;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, discriminator: false });
  addFormats(ajv);
  ajv.addSchema({ components: doc.components }, "cf");
  ajv.addSchema({ components: dropRequired(doc.components, readOnlyNames(doc)) }, "cfreq");
  const rewrite = (s: unknown, base: string): unknown => {
    if (Array.isArray(s)) return s.map((x) => rewrite(x, base));
    if (!s || typeof s !== "object") return s;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) out[k] = k === "$ref" && typeof v === "string" ? `${base}${v}` : rewrite(v, base);
    return out;
  };
  const cache = new Map<string, ValidateFunction>();
  const compiled = (key: string, schema: unknown, base: string) => {
    let fn = cache.get(key);
    if (!fn) {
      fn = ajv.compile(rewrite(schema, base) as object);
      cache.set(key, fn);
    }
    return fn;
  };
  const ops = Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods)
      .filter(([m]) => m !== "parameters")
      .map(([m, op]) => ({ template, method: m.toUpperCase(), op, segments: template.split("/").filter(Boolean) })),
  );
  const problems = (fn: ValidateFunction, value: unknown) =>
    fn(value)
      ? []
      : (fn.errors ?? [])
          .slice(0, 10)
          .map(
            (e) =>
              `${e.instancePath || "/"} ${e.message ?? "is invalid"}${e.params && "allowedValues" in e.params ? ` (${String(e.params.allowedValues)})` : ""}`,
          );

  return {
    route(method, path) {
      const parts = path.split("/").filter(Boolean);
      for (const o of ops) {
        if (o.method !== method || o.segments.length !== parts.length) continue;
        const pathParams: Record<string, string> = {};
        const ok = o.segments.every((seg, i) => {
          const part = parts[i] ?? "";
          if (seg.startsWith("{")) {
            pathParams[seg.slice(1, -1)] = decodeURIComponent(part);
            return true;
          }
          return seg === part;
        });
        if (ok)
          return {
            method,
            template: o.template,
            operationId: o.op.operationId ?? `${method} ${o.template}`,
            pathParams,
            query: (o.op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name ?? ""),
          };
      }
      return undefined;
    },
    checkRequest(op, body) {
      const o = ops.find((x) => x.method === op.method && x.template === op.template);
      const schema = o?.op.requestBody?.content?.["application/json"]?.schema;
      if (!schema) return [];
      const all = problems(compiled(`req ${op.method} ${op.template}`, schema, "cfreq"), body);
      // A DNS record body is a oneOf keyed by `type`: report the problems of the branch its type names.
      const type = (body as { type?: unknown } | null)?.type;
      if (all.length && op.template.includes("dns_records") && typeof type === "string") {
        const branch = `dns-records_${type}Record`;
        if (!(branch in doc.components.schemas)) return [`/type must be one of the DNS record types, got '${type}'`];
        return problems(compiled(`branch ${branch}`, { $ref: `#/components/schemas/${branch}` }, "cfreq"), body);
      }
      return all;
    },
    checkResponse(op, body) {
      const o = ops.find((x) => x.method === op.method && x.template === op.template);
      const schema = o?.op.responses?.["200"]?.content?.["application/json"]?.schema;
      if (!schema) return [];
      return problems(compiled(`res ${op.method} ${op.template}`, schema, "cf"), body);
    },
  };
}
