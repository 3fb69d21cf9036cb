// What a change of the stack files will do, before anything runs: validation across the whole tree, ownership, and per stack
// the instances created / changed in place / replaced / destroyed, hostnames added / removed and points per day before → after.
import { isDeepStrictEqual } from "node:util";
import { replacementRisks } from "../programs/replacement.js";
import { tunnelHostname } from "../programs/naming.js";
import type { Instance, PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { costOf } from "../stackfiles/cost.js";
import { parseStackFile } from "../stackfiles/parse.js";
import { compareErrors, type PositionedError } from "../stackfiles/positioned-error.js";
import { isStackFileName, validateStackSet, type StackFileInput } from "../stackfiles/validate.js";
import { OWNERS_FILE, ownershipErrors, parseOwners, type OwnedChange, type OwnersFile } from "./owners.js";

/** The stack files of one revision: name inside the stacks directory (`alice.yaml`, `OWNERS`) → bytes. */
export type StackTree = ReadonlyMap<string, Uint8Array>;

export interface CheckOptions {
  /** Prefix of every path shown, so a report reads like the repository: `stacks/`. @default "" */
  displayPrefix?: string;
  /** The change's author; ownership is checked only when given. */
  author?: string;
  /** Replacements do not fail the check. */
  allowReplace?: boolean;
  /** Destroys do not fail the check. */
  allowDestroy?: boolean;
}

export type FileStatus = "added" | "modified" | "deleted";

export interface ChangedFile {
  path: string;
  status: FileStatus;
}

export interface InstanceChange {
  instance: string;
  /** The spec fields (or platform catalog entries) that differ. */
  fields: string[];
}

export interface InstanceLoss {
  instance: string;
  /** A sentence from the programs' replacement rules. */
  reasons: string[];
}

/** What one user stack's change does, by the programs' rules. */
export interface StackChange {
  stack: string;
  path: string;
  status: FileStatus | "platform-changed";
  /** False when the file after the change is invalid: the engine keeps its last good state, nothing below happens. */
  applicable: boolean;
  created: string[];
  changed: InstanceChange[];
  replaced: InstanceLoss[];
  destroyed: InstanceLoss[];
  /** Stack-level fields that differ (sshKeys, suspension, owner, linuxUser). */
  settings: string[];
  hostnames: { added: string[]; removed: string[] };
  /** Points per day; null when that side does not exist or cannot be priced. */
  pointsPerDay: { before: number | null; after: number | null };
}

export interface CheckReport {
  /** True when nothing below fails the check. */
  ok: boolean;
  base: string;
  head: string;
  changedFiles: ChangedFile[];
  /** Validation errors the change brings: every error of a changed file, and new errors elsewhere (a conflict it causes). */
  violations: PositionedError[];
  /** Errors already present at the base in files the change did not touch; shown, never blamed on the change. */
  preexisting: PositionedError[];
  ownership: { checked: boolean; author?: string; errors: PositionedError[] };
  stacks: StackChange[];
  /** Whether the platform file changed (every user stack is then looked at). */
  platformChanged: boolean;
  replacements: number;
  destroys: number;
  allowReplace: boolean;
  allowDestroy: boolean;
  /** Why the check fails, one sentence each; empty when ok. */
  failures: string[];
}

/**
 * Compares two trees of stack files. Pure: no git, no network, no Pulumi. `base`/`head` only label the report.
 * Validation runs over the whole `after` tree (cross-file invariants included), and over `before` only to tell
 * errors the change brings from those it found.
 */
export function checkChange(before: StackTree, after: StackTree, labels: { base: string; head: string }, opts: CheckOptions = {}): CheckReport {
  const prefix = opts.displayPrefix ?? "";
  const shown = (name: string) => `${prefix}${name}`;
  const changedFiles = diffTrees(before, after).map((c) => ({ ...c, path: shown(c.name) }));

  const beforeSet = validateStackSet(stackInputs(before, shown));
  const afterSet = validateStackSet(stackInputs(after, shown));
  const changedPaths = new Set(changedFiles.map((c) => c.path));
  const key = (e: PositionedError) => `${e.path}\u0000${e.line}\u0000${e.col}\u0000${e.code}`;
  const known = new Set(beforeSet.errors.map(key));
  const violations: PositionedError[] = [];
  const preexisting: PositionedError[] = [];
  for (const e of afterSet.errors) (changedPaths.has(e.path) || !known.has(key(e)) ? violations : preexisting).push(e);
  const ownersOut = ownersErrors(after, changedFiles, shown);
  violations.push(...ownersOut);
  violations.sort(compareErrors);

  const platformBefore = platformOf(before);
  const platformAfter = platformOf(after);
  const platformChanged = changedFiles.some((c) => c.name === "platform.yaml");
  const invalidAfter = new Set(afterSet.files.filter((f) => !f.valid).map((f) => f.path));
  const stacks = describeStacks(before, after, changedFiles, { platformBefore, platformAfter, platformChanged, invalidAfter, shown });

  const ownership =
    opts.author === undefined
      ? { checked: false, errors: [] }
      : {
          checked: true,
          author: opts.author,
          errors: ownershipErrors(opts.author, ownedChanges(before, after, changedFiles, shown), ownersFile(before, shown)),
        };

  const replacements = stacks.reduce((n, s) => n + s.replaced.length, 0);
  const destroys = stacks.reduce((n, s) => n + s.destroyed.length, 0);
  const failures: string[] = [];
  if (violations.length > 0) failures.push(`${violations.length} validation error${violations.length === 1 ? "" : "s"}`);
  if (ownership.errors.length > 0)
    failures.push(
      `${ownership.errors.length} file${ownership.errors.length === 1 ? "" : "s"} changed by someone who does not own ${ownership.errors.length === 1 ? "it" : "them"}`,
    );
  if (replacements > 0 && !opts.allowReplace)
    failures.push(`${replacements} container${replacements === 1 ? "" : "s"} replaced (disk lost); allow with --allow-replace`);
  if (destroys > 0 && !opts.allowDestroy) failures.push(`${destroys} container${destroys === 1 ? "" : "s"} destroyed; allow with --allow-destroy`);

  return {
    ok: failures.length === 0,
    base: labels.base,
    head: labels.head,
    changedFiles: changedFiles.map(({ path, status }) => ({ path, status })),
    violations,
    preexisting,
    ownership,
    stacks,
    platformChanged,
    replacements,
    destroys,
    allowReplace: opts.allowReplace ?? false,
    allowDestroy: opts.allowDestroy ?? false,
    failures,
  };
}

// --- files ---

interface NamedChange {
  name: string;
  path: string;
  status: FileStatus;
}

function diffTrees(before: StackTree, after: StackTree): { name: string; status: FileStatus }[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].filter(relevant).sort();
  const out: { name: string; status: FileStatus }[] = [];
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    if (a === undefined && b !== undefined) out.push({ name, status: "added" });
    else if (a !== undefined && b === undefined) out.push({ name, status: "deleted" });
    else if (a !== undefined && b !== undefined && !Buffer.from(a).equals(Buffer.from(b))) out.push({ name, status: "modified" });
  }
  return out;
}

function relevant(name: string): boolean {
  return name === OWNERS_FILE || (isStackFileName(name) && !name.includes("/"));
}

function stackInputs(tree: StackTree, shown: (n: string) => string): StackFileInput[] {
  return [...tree].filter(([name]) => isStackFileName(name) && !name.includes("/")).map(([name, text]) => ({ path: shown(name), text }));
}

function ownersFile(tree: StackTree, shown: (n: string) => string): OwnersFile | undefined {
  const text = tree.get(OWNERS_FILE);
  return text === undefined ? undefined : parseOwners(Buffer.from(text).toString("utf8"), shown(OWNERS_FILE));
}

/** An OWNERS file the change touches must itself be readable. */
function ownersErrors(after: StackTree, changed: readonly NamedChange[], shown: (n: string) => string): PositionedError[] {
  if (!changed.some((c) => c.name === OWNERS_FILE && c.status !== "deleted")) return [];
  return ownersFile(after, shown)?.errors ?? [];
}

function userSpec(tree: StackTree, name: string, shown: (n: string) => string): UserStackSpec | undefined {
  const text = tree.get(name);
  if (text === undefined) return undefined;
  const r = parseStackFile(shown(name), text);
  return r.ok && r.kind === "UserStack" ? r.spec : undefined;
}

function platformOf(tree: StackTree): PlatformSpec | undefined {
  const text = tree.get("platform.yaml");
  if (text === undefined) return undefined;
  const r = parseStackFile("platform.yaml", text);
  return r.ok && r.kind === "Platform" ? r.spec : undefined;
}

function ownedChanges(before: StackTree, after: StackTree, changed: readonly NamedChange[], shown: (n: string) => string): OwnedChange[] {
  return changed.map((c) => {
    const ownerBefore = userSpec(before, c.name, shown)?.owner.email ?? rawOwner(before.get(c.name));
    const ownerAfter = userSpec(after, c.name, shown)?.owner.email ?? rawOwner(after.get(c.name));
    return { file: c.name, displayPath: c.path, status: c.status, ...(ownerBefore ? { ownerBefore } : {}), ...(ownerAfter ? { ownerAfter } : {}) };
  });
}

/** `owner.email` of a file too broken to parse: a user must still be able to fix their own broken file. */
function rawOwner(text: Uint8Array | undefined): string | undefined {
  if (text === undefined) return undefined;
  const m = /^owner:\s*\n\s+email:\s*["']?([^\s"'#]+)/m.exec(Buffer.from(text).toString("utf8"));
  return m?.[1];
}

// --- stacks ---

interface StackContext {
  platformBefore: PlatformSpec | undefined;
  platformAfter: PlatformSpec | undefined;
  platformChanged: boolean;
  invalidAfter: ReadonlySet<string>;
  shown: (n: string) => string;
}

function describeStacks(before: StackTree, after: StackTree, changed: readonly NamedChange[], ctx: StackContext): StackChange[] {
  const byName = new Map(changed.map((c) => [c.name, c.status]));
  const names = new Set(changed.filter((c) => c.name !== "platform.yaml" && c.name !== OWNERS_FILE).map((c) => c.name));
  // A platform change (catalog, datastore, node) can replace or reprice every user's containers.
  if (ctx.platformChanged) for (const n of after.keys()) if (n !== "platform.yaml" && n !== OWNERS_FILE && relevant(n)) names.add(n);
  const out: StackChange[] = [];
  for (const name of [...names].sort()) {
    const b = userSpec(before, name, ctx.shown);
    const a = userSpec(after, name, ctx.shown);
    const status = byName.get(name) ?? "platform-changed";
    const path = ctx.shown(name);
    const applicable = status === "deleted" || (!ctx.invalidAfter.has(path) && a !== undefined && ctx.platformAfter !== undefined);
    if (b === undefined && a === undefined) continue;
    const change = describeStack(name.replace(/\.yaml$/, ""), path, status, b, applicable ? a : undefined, applicable, ctx);
    if (status !== "platform-changed" || hasEffect(change)) out.push(change);
  }
  return out;
}

function describeStack(
  stack: string,
  path: string,
  status: StackChange["status"],
  b: UserStackSpec | undefined,
  a: UserStackSpec | undefined,
  applicable: boolean,
  ctx: StackContext,
): StackChange {
  const { platformBefore: pb, platformAfter: pa } = ctx;
  const result: StackChange = {
    stack,
    path,
    status,
    applicable,
    created: [],
    changed: [],
    replaced: [],
    destroyed: [],
    settings: [],
    hostnames: { added: [], removed: [] },
    pointsPerDay: { before: b && pb ? pointsOf(b, pb) : null, after: a && pa ? pointsOf(a, pa) : null },
  };
  if (!applicable) return result;
  const beforeInstances = b?.instances ?? [];
  const afterInstances = a?.instances ?? [];

  if (a === undefined) {
    result.destroyed = beforeInstances.map((i) => ({
      instance: i.name,
      reasons: [`the stack file is removed: the engine destroys container ${i.name}${i.vmid === undefined ? "" : ` (VMID ${i.vmid})`} and its disk`],
    }));
  } else if (b !== undefined && pa !== undefined) {
    const risks = replacementRisks(b, a, pa, pb ?? pa);
    const group = (kind: "replace" | "destroy") => {
      const m = new Map<string, string[]>();
      for (const r of risks.filter((x) => x.kind === kind)) m.set(r.instance, [...(m.get(r.instance) ?? []), r.reason]);
      return [...m].map(([instance, reasons]) => ({ instance, reasons }));
    };
    result.replaced = group("replace");
    result.destroyed = group("destroy");
  }

  const beforeByName = new Map(beforeInstances.map((i) => [i.name, i]));
  const replaced = new Set(result.replaced.map((r) => r.instance));
  for (const inst of afterInstances) {
    const old = beforeByName.get(inst.name);
    if (old === undefined) result.created.push(inst.name);
    else if (!replaced.has(inst.name)) {
      const fields = changedFields(old, inst, ctx.platformChanged ? pb : undefined, pa);
      if (fields.length > 0) result.changed.push({ instance: inst.name, fields });
    }
  }
  if (a !== undefined && b !== undefined) {
    result.settings = (["owner", "linuxUser", "sshKeys", "suspension"] as const).filter((k) => !isDeepStrictEqual(b[k], a[k]));
  }
  const hostsBefore = new Set(b && pb ? hostnamesOf(b, pb) : []);
  const hostsAfter = new Set(a && pa ? hostnamesOf(a, pa) : []);
  result.hostnames = { added: [...hostsAfter].filter((h) => !hostsBefore.has(h)).sort(), removed: [...hostsBefore].filter((h) => !hostsAfter.has(h)).sort() };
  return result;
}

function hasEffect(c: StackChange): boolean {
  return (
    c.created.length + c.changed.length + c.replaced.length + c.destroyed.length + c.hostnames.added.length + c.hostnames.removed.length > 0 ||
    c.pointsPerDay.before !== c.pointsPerDay.after
  );
}

function changedFields(old: Instance, next: Instance, pb: PlatformSpec | undefined, pa: PlatformSpec | undefined): string[] {
  const keys = [...new Set([...Object.keys(old), ...Object.keys(next)])].sort() as (keyof Instance)[];
  const fields: string[] = keys.filter((k) => !isDeepStrictEqual(old[k], next[k]));
  if (pb && pa) {
    if (!isDeepStrictEqual(pb.plans[next.plan], pa.plans[next.plan])) fields.push(`platform.plans.${next.plan}`);
    if (!isDeepStrictEqual(pb.templates[next.template], pa.templates[next.template])) fields.push(`platform.templates.${next.template}`);
  }
  return fields;
}

function hostnamesOf(spec: UserStackSpec, platform: PlatformSpec): string[] {
  return spec.instances.flatMap((i) => i.domains.map((d) => tunnelHostname(spec.name, i.name, d.subdomain, platform.baseDomain)));
}

function pointsOf(spec: UserStackSpec, platform: PlatformSpec): number | null {
  try {
    return costOf(spec, platform).perDay;
  } catch {
    return null;
  }
}
