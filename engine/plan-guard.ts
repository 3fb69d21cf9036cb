// The guard between preview and up: refuses plans that replace or delete containers the spec change did not ask for.
import type { UserStackSpec } from "../schemas/index.js";
import type { PlanStep } from "../runners/runner.js";

const DESTRUCTIVE = new Set(["delete", "replace", "create-replacement", "delete-replaced"]);

/** Whether a plan step is a Proxmox container (logical name `<user>/<instance>/container`, see programs/naming.ts). */
export function isContainerStep(step: PlanStep): boolean {
  return /container/i.test(step.type) && !/firewall/i.test(step.type);
}

/** The instance a container step belongs to, from its logical name `<user>/<instance>/container`. */
export function instanceOfStep(step: PlanStep): string | undefined {
  const parts = step.name.split("/");
  if (parts.length >= 3 && parts.at(-1) === "container") return parts[parts.length - 2];
  return parts.length === 2 ? parts[1] : undefined;
}

/**
 * Instances whose change in the file forces a replacement (a hand-edited VMID, another template or
 * node): the author asked for it. The programs' `replacementRisks` says it precisely when present;
 * this fallback covers the fields known to replace.
 */
export function askedReplacements(before: UserStackSpec | undefined, after: UserStackSpec): Set<string> {
  const out = new Set<string>();
  for (const a of after.instances) {
    const b = before?.instances.find((i) => i.name === a.name);
    if (b && (b.vmid !== a.vmid || b.template !== a.template)) out.add(a.name);
  }
  return out;
}

export type GuardVerdict = { ok: true } | { ok: false; reason: "UnsafePlan" | "Protected"; message: string };

/**
 * Checks a preview of a user stack. Deleting a container is allowed only when its instance is gone
 * from the file; replacing one only when the file change asked for it; a protected instance is
 * never deleted or replaced.
 */
export function guardPlan(
  stack: string,
  steps: readonly PlanStep[],
  before: UserStackSpec | undefined,
  after: UserStackSpec,
  asked: ReadonlySet<string>,
): GuardVerdict {
  const problems: string[] = [];
  let protectedHit = false;
  for (const step of steps) {
    if (!DESTRUCTIVE.has(step.op) || !isContainerStep(step)) continue;
    const inst = instanceOfStep(step);
    const wasProtected = before?.instances.find((i) => i.name === inst)?.protect === true || after.instances.find((i) => i.name === inst)?.protect === true;
    const stillInFile = after.instances.some((i) => i.name === inst);
    const what = step.op === "delete" || step.op === "delete-replaced" ? (stillInFile ? "replace" : "delete") : "replace";
    if (wasProtected) {
      protectedHit = true;
      problems.push(
        `${stack}/${inst ?? step.name} is protected and would be ${what === "delete" ? "deleted" : "replaced"}; remove "protect: true" first if that is really wanted`,
      );
      continue;
    }
    if (what === "delete" && !stillInFile) continue;
    if (what === "replace" && inst !== undefined && asked.has(inst)) continue;
    problems.push(
      what === "delete"
        ? `the plan deletes container ${step.name} although instance ${inst ?? "?"} is still in the file`
        : `the plan replaces container ${step.name} (destroying its disk) although the file change did not ask for it${step.diffs?.length ? ` (changed: ${step.diffs.join(", ")})` : ""}`,
    );
  }
  if (problems.length === 0) return { ok: true };
  return { ok: false, reason: protectedHit ? "Protected" : "UnsafePlan", message: `refused to apply ${stack}: ${problems.join("; ")}` };
}
