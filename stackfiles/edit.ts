// Editing stack files so the git diff shows only the change: comments, key order and formatting survive.
import { isMap, isScalar, isSeq, parseDocument, YAMLSeq, type Document, type ToStringOptions, type YAMLMap } from "yaml";
import { ProxstackError } from "../lib/errors.js";
import type { Domain, Instance } from "../schemas/index.js";

const PRINT: ToStringOptions = { lineWidth: 0 };

/** What a caller gives to add an instance; defaults stay unwritten so the file stays short. */
export type InstanceInput = Pick<Instance, "name" | "template" | "plan"> & Partial<Omit<Instance, "name" | "template" | "plan">>;

export interface SuspensionInput {
  reason: "points-exhausted" | "admin";
  /** ISO 8601 with offset, e.g. 2026-11-25T10:00:00Z. */
  since: string;
  note?: string;
}

/**
 * Applies `mutate` to the file's YAML Document and returns the new text. Only lines the mutation
 * changed differ from `text`: the document is printed before and after the mutation and just the
 * lines that differ between those prints are spliced into the original, so the yaml library's
 * normalisation (spacing before comments, flow padding) never reaches unchanged lines.
 * Throws a `stall` ProxstackError when the text is not readable YAML.
 */
export function editStackText(text: string, mutate: (doc: Document) => void): string {
  const crlf = text.includes("\r\n");
  const original = crlf ? text.replace(/\r\n/g, "\n") : text;
  const doc = parseDocument(original, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ProxstackError("stackfile-unreadable", `cannot edit: the file is not valid YAML (${doc.errors[0]?.message.split("\n")[0] ?? ""})`, {
      kind: "stall",
    });
  }
  const before = doc.toString(PRINT);
  mutate(doc);
  const after = doc.toString(PRINT);
  const out = spliceChanges(original, before, after);
  return crlf ? out.replace(/\n/g, "\r\n") : out;
}

/** Lines of `after` that differ from `before`, applied onto `original` (a line-for-line twin of `before`). */
export function spliceChanges(original: string, before: string, after: string): string {
  const a = original.split("\n");
  const b = before.split("\n");
  const c = after.split("\n");
  if (a.length !== b.length) return after; // the print reflowed lines; fall back to the full print
  let p = 0;
  while (p < b.length && p < c.length && b[p] === c[p]) p++;
  let s = 0;
  while (s < b.length - p && s < c.length - p && b[b.length - 1 - s] === c[c.length - 1 - s]) s++;
  const mid = lcsMerge(a.slice(p, a.length - s), b.slice(p, b.length - s), c.slice(p, c.length - s));
  return [...a.slice(0, p), ...mid, ...a.slice(a.length - s)].join("\n");
}

/** The changed middle: lines common to before and after come from the original, the rest from after. */
function lcsMerge(a: string[], b: string[], c: string[]): string[] {
  if (b.length * c.length > 4_000_000) return c;
  const dp = Array.from({ length: b.length + 1 }, () => new Uint32Array(c.length + 1));
  for (let i = b.length - 1; i >= 0; i--) {
    for (let j = c.length - 1; j >= 0; j--) {
      const row = dp[i] as Uint32Array;
      row[j] = b[i] === c[j] ? (dp[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(dp[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < b.length || j < c.length) {
    if (i < b.length && j < c.length && b[i] === c[j]) {
      out.push(a[i] ?? "");
      i++;
      j++;
    } else if (j < c.length && (i >= b.length || (dp[i]?.[j + 1] ?? 0) >= (dp[i + 1]?.[j] ?? 0))) {
      out.push(c[j] ?? "");
      j++;
    } else {
      i++;
    }
  }
  return out;
}

// --- typed edits the engine and the portal use ---

/** Records the engine's allocations on an instance; `undefined` leaves a field as it is. */
export function setAllocation(text: string, instance: string, alloc: { vmid?: number; ip?: string }): string {
  return editStackText(text, (doc) => {
    const inst = instanceMap(doc, instance);
    if (alloc.vmid !== undefined) setKeyAfter(doc, inst, "vmid", alloc.vmid, ["power", "plan", "template", "name"]);
    if (alloc.ip !== undefined) setKeyAfter(doc, inst, "ip", alloc.ip, ["vmid", "power", "plan", "template", "name"]);
  });
}

export function setPower(text: string, instance: string, power: "running" | "stopped"): string {
  return editStackText(text, (doc) => setKeyAfter(doc, instanceMap(doc, instance), "power", power, ["plan", "template", "name"]));
}

/** Moves an instance to another plan of the catalog (a resize; the validator decides whether it is allowed). */
export function setPlan(text: string, instance: string, plan: string): string {
  return editStackText(text, (doc) => setKeyAfter(doc, instanceMap(doc, instance), "plan", plan, ["template", "name"]));
}

/** Appends an instance (keys in schema order, defaults left out); its name must be new. */
export function addInstance(text: string, instance: InstanceInput): string {
  return editStackText(text, (doc) => {
    const seq = instancesSeq(doc, true);
    if (seq.items.some((it) => isMap(it) && it.get("name") === instance.name)) {
      throw new ProxstackError("instance-exists", `an instance named ${JSON.stringify(instance.name)} already exists`, { kind: "stall", status: 409 });
    }
    const order = ["name", "template", "plan", "power", "vmid", "ip", "domains", "snapshots", "protect", "rateLimitMBps"] as const;
    const plain: Record<string, unknown> = {};
    for (const k of order) if (instance[k] !== undefined) plain[k] = instance[k];
    seq.items.push(doc.createNode(plain));
  });
}

export function removeInstance(text: string, instance: string): string {
  return editStackText(text, (doc) => {
    const seq = instancesSeq(doc, false);
    const i = seq.items.findIndex((it) => isMap(it) && it.get("name") === instance);
    if (i === -1) throw notFound(instance);
    seq.items.splice(i, 1);
  });
}

/** Adds a domain to an instance, in the style (flow or block) of the domains already listed. */
export function addDomain(text: string, instance: string, domain: Domain): string {
  return editStackText(text, (doc) => {
    const inst = instanceMap(doc, instance);
    const current: unknown = inst.get("domains", true);
    let list: YAMLSeq;
    if (isSeq(current)) {
      list = current;
    } else {
      list = new YAMLSeq();
      setKeyAfter(doc, inst, "domains", list, ["ip", "vmid", "power", "plan", "template", "name"]);
    }
    if (list.items.some((d) => isMap(d) && d.get("subdomain") === domain.subdomain)) {
      throw new ProxstackError("domain-exists", `${instance} already has the subdomain ${JSON.stringify(domain.subdomain)}`, { kind: "stall", status: 409 });
    }
    const node = doc.createNode({ subdomain: domain.subdomain, port: domain.port });
    const last = list.items.at(-1);
    if (isMap(last) && last.flow) node.flow = true;
    list.items.push(node);
  });
}

export function removeDomain(text: string, instance: string, subdomain: string): string {
  return editStackText(text, (doc) => {
    const list: unknown = instanceMap(doc, instance).get("domains", true);
    const i = isSeq(list) ? list.items.findIndex((d) => isMap(d) && d.get("subdomain") === subdomain) : -1;
    if (i === -1 || !isSeq(list))
      throw new ProxstackError("domain-not-found", `${instance} has no subdomain ${JSON.stringify(subdomain)}`, { kind: "stall", status: 404 });
    list.items.splice(i, 1);
  });
}

/** Sets the suspension block (billing job, administrator), or removes it when `suspension` is undefined. */
export function setSuspension(text: string, suspension: SuspensionInput | undefined): string {
  return editStackText(text, (doc) => {
    const root = rootMap(doc);
    if (suspension === undefined) {
      root.delete("suspension");
      return;
    }
    const plain: Record<string, unknown> = { reason: suspension.reason, since: suspension.since };
    if (suspension.note !== undefined) plain.note = suspension.note;
    root.set("suspension", doc.createNode(plain));
  });
}

function rootMap(doc: Document): YAMLMap {
  if (!isMap(doc.contents)) throw new ProxstackError("stackfile-unreadable", "cannot edit: the file is not a mapping", { kind: "stall" });
  return doc.contents;
}

function instancesSeq(doc: Document, create: boolean): YAMLSeq {
  const root = rootMap(doc);
  const seq = root.get("instances", true);
  if (isSeq(seq)) return seq;
  if (!create) throw new ProxstackError("instance-not-found", "the stack has no instances", { kind: "stall", status: 404 });
  const fresh = new YAMLSeq();
  root.set("instances", fresh);
  return fresh;
}

function instanceMap(doc: Document, name: string): YAMLMap {
  const found = instancesSeq(doc, false).items.find((it): it is YAMLMap => isMap(it) && it.get("name") === name);
  if (!found) throw notFound(name);
  return found;
}

function notFound(name: string): ProxstackError {
  return new ProxstackError("instance-not-found", `no instance named ${JSON.stringify(name)}`, { kind: "stall", status: 404 });
}

/** Sets `key` in place when present; otherwise inserts it after the first of `after` that exists (else last). */
function setKeyAfter(doc: Document, map: YAMLMap, key: string, value: unknown, after: readonly string[]): void {
  const existing = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (existing) {
    if (isScalar(existing.value)) existing.value.value = value;
    else existing.value = doc.createNode(value);
    return;
  }
  let at = map.items.length;
  for (const k of after) {
    const i = map.items.findIndex((p) => isScalar(p.key) && p.key.value === k);
    if (i !== -1) {
      at = i + 1;
      break;
    }
  }
  map.items.splice(at, 0, doc.createPair(key, value));
}
