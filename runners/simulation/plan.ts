// Classifies registered resources against the simulation state into Pulumi-like steps (create/update/replace/delete/same with diffs).
import type { z } from "zod";
import { ProxstackError } from "../../lib/errors.js";
import type { Registration } from "./mock-run.js";
import type { StepOp } from "../runner.js";
import type { RecordedResource } from "./state.js";
import { PROVIDER_TYPE_PREFIX, RESOURCE_TYPE } from "../../programs/naming.js";

/** The resource types the simulation applies (tokens from programs/naming.ts). */
export const TYPES = {
  container: RESOURCE_TYPE.container,
  firewallOptions: RESOURCE_TYPE.firewallOptions,
  firewallRules: RESOURCE_TYPE.firewallRules,
  tunnelConfig: RESOURCE_TYPE.tunnelConfig,
  dnsRecord: RESOURCE_TYPE.dnsRecord,
} as const;

const SUPPORTED: ReadonlySet<string> = new Set(Object.values(TYPES));

/** Input paths whose change forces a replacement, per type (the provider's ForceNew fields, see pulumi.md §3.3). */
const REPLACE_PATHS: Record<string, string[]> = {
  [TYPES.container]: ["nodeName", "vmId", "clone", "operatingSystem", "unprivileged", "disk.datastoreId", "initialization.userAccount"],
  [TYPES.firewallOptions]: ["nodeName", "containerId", "vmId"],
  [TYPES.firewallRules]: ["nodeName", "containerId", "vmId"],
  [TYPES.tunnelConfig]: ["accountId", "tunnelId"],
  [TYPES.dnsRecord]: ["zoneId"],
};

/** A registration the simulation applies: a custom resource that is not a provider. */
export interface DesiredResource {
  urn: string;
  type: string;
  name: string;
  seq: number;
  inputs: Record<string, unknown>;
  protect: boolean;
  replaceWith: string[];
  ignoreChanges: string[];
}

export interface SimStep {
  op: StepOp;
  urn: string;
  type: string;
  name: string;
  desired?: DesiredResource;
  recorded?: RecordedResource;
  /** Top-level input keys that differ (Pulumi's `diffs`). */
  diffs: string[];
}

/** The registrations the simulation acts on, secrets removed; an unsupported type is a stall error. */
export function desiredResources(registrations: readonly Registration[]): DesiredResource[] {
  const out: DesiredResource[] = [];
  registrations.forEach((r, seq) => {
    if (!r.custom || r.type.startsWith(PROVIDER_TYPE_PREFIX)) return;
    if (!SUPPORTED.has(r.type)) {
      throw new ProxstackError(
        "simulation.unsupported-type",
        `the simulation cannot apply resources of type ${r.type} (${r.name}); run against real endpoints or extend engine/simulation-*.ts`,
        { kind: "stall" },
      );
    }
    const inputs = structuredClone(r.inputs);
    for (const p of r.secretPaths) deletePath(inputs, p);
    out.push({
      urn: r.urn,
      type: r.type,
      name: r.name,
      seq,
      inputs,
      protect: r.options.protect,
      replaceWith: r.options.replaceWith,
      ignoreChanges: r.options.ignoreChanges,
    });
  });
  return out;
}

/**
 * Steps in apply order: registered resources in registration order, then deletions in reverse
 * registration order. A dirty record is at least an update. Resources replaced along with another
 * (`replaceWith`) follow it.
 */
export function planSteps(desired: readonly DesiredResource[], recorded: readonly RecordedResource[]): SimStep[] {
  const byUrn = new Map(recorded.map((r) => [r.urn, r]));
  const steps: SimStep[] = [];
  const replaced = new Set<string>();
  for (const d of desired) {
    const rec = byUrn.get(d.urn);
    if (!rec) {
      steps.push({ op: "create", urn: d.urn, type: d.type, name: d.name, desired: d, diffs: [] });
      continue;
    }
    const effective = withIgnoredFromOld(d, rec);
    const diffs = diffKeys(effective.inputs, rec.inputs);
    const forced = forcesReplace(d.type, effective.inputs, rec.inputs) || d.replaceWith.some((u) => replaced.has(u));
    const op: StepOp = forced ? "replace" : diffs.length > 0 || rec.dirty ? "update" : "same";
    if (op === "replace") replaced.add(d.urn);
    steps.push({
      op,
      urn: d.urn,
      type: d.type,
      name: d.name,
      desired: effective,
      recorded: rec,
      diffs: rec.dirty && diffs.length === 0 && op !== "same" ? Object.keys(effective.inputs).sort() : diffs,
    });
  }
  const wanted = new Set(desired.map((d) => d.urn));
  for (const rec of [...recorded].sort((a, b) => b.seq - a.seq)) {
    if (!wanted.has(rec.urn)) steps.push({ op: "delete", urn: rec.urn, type: rec.type, name: rec.name, recorded: rec, diffs: [] });
  }
  return steps;
}

/** Throws a stall error when a step would delete or replace a protected resource; nothing has been applied yet. */
export function refuseProtected(stack: string, steps: readonly SimStep[]): void {
  const hit = steps.filter((s) => (s.op === "delete" || s.op === "replace") && s.recorded?.protect);
  if (hit.length === 0) return;
  const list = hit.map((s) => `${s.name} (${s.op})`).join(", ");
  throw new ProxstackError(
    "simulation.protected",
    `${stack}: refusing to delete or replace protected resources: ${list}. Set protect: false in the stack file and apply first, then remove the instance`,
    { kind: "stall" },
  );
}

/** Count of steps per op. */
export function countOps(steps: readonly SimStep[]): Partial<Record<StepOp, number>> {
  const out: Partial<Record<StepOp, number>> = {};
  for (const s of steps) out[s.op] = (out[s.op] ?? 0) + 1;
  return out;
}

function forcesReplace(type: string, next: Record<string, unknown>, prev: Record<string, unknown>): boolean {
  if ((REPLACE_PATHS[type] ?? []).some((p) => !deepEqual(getPath(next, p), getPath(prev, p)))) return true;
  // A smaller root disk cannot be resized in place.
  if (type === TYPES.container) {
    const n = getPath(next, "disk.size");
    const p = getPath(prev, "disk.size");
    return typeof n === "number" && typeof p === "number" && n < p;
  }
  return false;
}

/** Ignored paths keep their recorded value, as Pulumi's ignoreChanges does. */
function withIgnoredFromOld(d: DesiredResource, rec: RecordedResource): DesiredResource {
  if (d.ignoreChanges.length === 0) return d;
  const inputs = structuredClone(d.inputs);
  for (const p of d.ignoreChanges) {
    const old = getPath(rec.inputs, p);
    if (old === undefined) deletePath(inputs, p);
    else setPath(inputs, p, structuredClone(old));
  }
  return { ...d, inputs };
}

export function diffKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !deepEqual(a[k], b[k])).sort();
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

export function getPath(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((cur, k) => (cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined), o);
}

function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const keys = path.split(".");
  let cur: Record<string, unknown> = o;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (next === null || typeof next !== "object") cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys.at(-1) ?? ""] = v;
}

function deletePath(o: Record<string, unknown>, path: string): void {
  if (path === "") return;
  const keys = path.split(".");
  const parent = getPath(o, keys.slice(0, -1).join("."));
  const target = keys.length === 1 ? o : parent;
  if (target !== null && typeof target === "object") delete (target as Record<string, unknown>)[keys.at(-1) ?? ""];
}

/** Registered inputs read through a schema at the edge; a mismatch is a bug between programs/ and the simulation. */
export function parseInputs<T>(schema: z.ZodType<T>, inputs: unknown, what: string): T {
  const r = schema.safeParse(inputs);
  if (!r.success)
    throw new ProxstackError(
      "simulation.bad-inputs",
      `${what}: the program registered inputs the simulation cannot read: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      { kind: "bug" },
    );
  return r.data;
}
