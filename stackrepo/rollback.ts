// Restoring one stack file as it was at a revision: a new commit (never a history rewrite), keeping allocations that are still valid,
// with the check report of what the restoration will do.
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isSeq } from "yaml";
import { ProxstackError } from "../lib/errors.js";
import { editStackText, setAllocation } from "../stackfiles/edit.js";
import { parseStackFile } from "../stackfiles/parse.js";
import { validateStackSet } from "../stackfiles/validate.js";
import { writeIfUnchanged } from "../engine/allocation-writer.js";
import { checkChange, type CheckReport } from "./check.js";
import { createGit, type GitIdentity } from "./git.js";
import { openStackRepo, repoPrefix, resolveRevision, treeAtRevision, workingTree } from "./repo.js";

/** What happened to one instance's `vmid` or `ip` in the restored file. */
export interface AllocationNote {
  instance: string;
  field: "vmid" | "ip";
  value: string;
  /** `kept-current`: the container holds it today; `kept`: free still; `dropped`: taken or unusable now, the engine allocates anew. */
  outcome: "kept-current" | "kept" | "dropped";
  reason: string;
}

export interface RollbackPlan {
  stack: string;
  /** File name inside the stacks directory, e.g. `alice.yaml`. */
  file: string;
  /** The revision as given, and as resolved. */
  to: string;
  commit: string;
  /** The file today (undefined: it does not exist) and as it will be (undefined: it is removed, as it did not exist at the revision). */
  current: string | undefined;
  restored: string | undefined;
  allocations: AllocationNote[];
  /** The check of today → restored, over the whole tree. */
  report: CheckReport;
  /** False when the restoration changes nothing. */
  changes: boolean;
}

/**
 * Works out the restoration of `<stack>.yaml` as it was at `to`. Allocations: an instance that exists today keeps
 * today's vmid and ip (its container holds them; the old values would replace it); an instance that does not exist
 * today keeps the old ones only while no other file claims them and the platform still allows them.
 */
export async function planRollback(
  dir: string,
  stack: string,
  to: string,
  allow: { allowReplace?: boolean; allowDestroy?: boolean } = {},
): Promise<RollbackPlan> {
  const git = await openStackRepo(dir);
  const commit = await resolveRevision(git, to);
  if (commit === undefined) throw new ProxstackError("unknown-revision", `git does not know the revision '${to}' in ${dir}`, { kind: "stall" });
  const file = `${stack}.yaml`;
  const prefix = await repoPrefix(git);
  const then = await treeAtRevision(git, commit);
  const now = await workingTree(dir);
  const old = then.get(file);
  const cur = now.get(file);
  if (old === undefined && cur === undefined) throw new ProxstackError("no-such-stack", `${prefix}${file} exists neither now nor at ${to}`, { kind: "stall" });
  const current = cur === undefined ? undefined : Buffer.from(cur).toString("utf8");

  let restored: string | undefined;
  let allocations: AllocationNote[] = [];
  if (old !== undefined) {
    ({ text: restored, notes: allocations } = restoreAllocations(Buffer.from(old).toString("utf8"), current, file, now));
  }
  const after = new Map(now);
  if (restored === undefined) after.delete(file);
  else after.set(file, Buffer.from(restored));
  const report = checkChange(now, after, { base: "working tree", head: `${file} as of ${commit.slice(0, 12)}` }, { displayPrefix: prefix, ...allow });
  return { stack, file, to, commit, current, restored, allocations, report, changes: restored !== current };
}

function restoreAllocations(oldText: string, current: string | undefined, file: string, tree: ReadonlyMap<string, Uint8Array>) {
  const notes: AllocationNote[] = [];
  const parsedOld = parseStackFile(file, oldText);
  const parsedCur = current === undefined ? undefined : parseStackFile(file, current);
  if (!parsedOld.ok || parsedOld.kind !== "UserStack") return { text: oldText, notes };
  const curInstances = parsedCur?.ok && parsedCur.kind === "UserStack" ? parsedCur.spec.instances : [];
  let text = oldText;
  for (const inst of parsedOld.spec.instances) {
    const today = curInstances.find((i) => i.name === inst.name);
    if (today?.vmid !== undefined || today?.ip !== undefined) {
      text = setAllocation(text, inst.name, { ...(today.vmid !== undefined ? { vmid: today.vmid } : {}), ...(today.ip !== undefined ? { ip: today.ip } : {}) });
      if (today.vmid !== undefined)
        notes.push({ instance: inst.name, field: "vmid", value: String(today.vmid), outcome: "kept-current", reason: "its container holds it today" });
      if (today.ip !== undefined)
        notes.push({ instance: inst.name, field: "ip", value: today.ip, outcome: "kept-current", reason: "its container holds it today" });
    }
  }
  // The old allocations left are valid if the whole tree still validates on them: conflicts and range errors point at them.
  const others = [...tree].filter(([n]) => n !== file).map(([n, t]) => ({ path: n, text: t }));
  const errors = validateStackSet([...others, { path: file, text }]).errors.filter((e) => e.path === file);
  const spec = parseStackFile(file, text);
  if (!spec.ok || spec.kind !== "UserStack") return { text, notes };
  const drops: { index: number; field: "vmid" | "ip"; reason: string }[] = [];
  spec.spec.instances.forEach((inst, index) => {
    if (notes.some((n) => n.instance === inst.name)) return;
    for (const field of ["vmid", "ip"] as const) {
      const value = inst[field];
      if (value === undefined) continue;
      const hit = errors.find(
        (e) => (e.code.endsWith("-conflict") && e.message.startsWith(`${field} ${String(value)} `)) || e.message.startsWith(`instances[${index}].${field} `),
      );
      if (hit) {
        drops.push({ index, field, reason: hit.message });
        notes.push({ instance: inst.name, field, value: String(value), outcome: "dropped", reason: `${hit.message}; the engine allocates a new one` });
      } else notes.push({ instance: inst.name, field, value: String(value), outcome: "kept", reason: "still free" });
    }
  });
  if (drops.length > 0) {
    text = editStackText(text, (doc) => {
      const seq = doc.get("instances");
      if (!isSeq(seq)) return;
      for (const d of drops) {
        const m = seq.items[d.index];
        if (isMap(m)) m.delete(d.field);
      }
    });
  }
  return { text, notes };
}

/**
 * Writes the restoration and commits it as a new commit (only that file), refusing when the file changed since the
 * plan was made, when the restored tree fails validation, or when it replaces or destroys containers the plan was not
 * allowed to (`report.ok` false). Returns the new commit id.
 */
export async function commitRollback(dir: string, plan: RollbackPlan, identity: GitIdentity): Promise<string> {
  if (!plan.changes) throw new ProxstackError("nothing-to-roll-back", `${plan.file} is already as it was at ${plan.to}`, { kind: "stall" });
  if (!plan.report.ok) {
    throw new ProxstackError("rollback-refused", `restoring ${plan.file} as of ${plan.to} is refused: ${plan.report.failures.join("; ")}`, { kind: "stall" });
  }
  const git = createGit(dir, identity);
  const path = join(dir, plan.file);
  if (plan.restored === undefined) {
    await rm(path);
    await git.out("rm", "--quiet", "--cached", "--ignore-unmatch", "--", plan.file);
  } else {
    const written = plan.current === undefined ? await writeNew(path, plan.restored) : await writeIfUnchanged(path, plan.current, plan.restored);
    if (!written.ok) throw new ProxstackError("changed-meanwhile", `${plan.file} changed while the rollback was prepared; run it again`, { kind: "retry" });
    await git.out("add", "--", plan.file);
  }
  await git.out("commit", "--quiet", "-m", `rollback ${plan.stack} to ${plan.to} (${plan.commit.slice(0, 12)})`, "-m", rollbackBody(plan), "--", plan.file);
  return git.out("rev-parse", "HEAD");
}

async function writeNew(path: string, text: string): Promise<{ ok: boolean }> {
  try {
    await writeFile(path, text, { flag: "wx" });
    return { ok: true };
  } catch {
    return { ok: false };
  }
}

function rollbackBody(plan: RollbackPlan): string {
  const lines = plan.report.stacks.flatMap((s) => [
    ...s.created.map((n) => `create ${n}`),
    ...s.changed.map((c) => `change ${c.instance}: ${c.fields.join(", ")}`),
    ...s.replaced.map((r) => `replace ${r.instance}`),
    ...s.destroyed.map((r) => `destroy ${r.instance}`),
  ]);
  const dropped = plan.allocations.filter((a) => a.outcome === "dropped").map((a) => `dropped ${a.instance}.${a.field} ${a.value} (taken since)`);
  return [...lines, ...dropped].join("\n") || "no container changes";
}
