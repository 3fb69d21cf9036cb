import { describe, expect, it } from "vitest";
import type { UserStackSpec } from "../schemas/index.js";
import { askedReplacements, guardPlan } from "./plan-guard.js";
import type { PlanStep, StepOp } from "../runners/runner.js";
import { RESOURCE_TYPE } from "../programs/naming.js";

const CT: string = RESOURCE_TYPE.container;
const FW = RESOURCE_TYPE.firewallRules;
const step = (name: string, op: StepOp, type = CT): PlanStep => ({ urn: `urn:${name}`, type, name, op, inputs: {} });
const inst = (name: string, extra: Partial<UserStackSpec["instances"][number]> = {}) => ({
  name,
  template: "debian-12",
  plan: "small",
  power: "running" as const,
  domains: [],
  protect: false,
  vmid: 2001,
  ip: "10.10.0.21",
  ...extra,
});
const spec = (...instances: ReturnType<typeof inst>[]): UserStackSpec => ({
  apiVersion: "proxstack.dev/v1",
  kind: "UserStack",
  name: "u",
  owner: { email: "u@example.com" },
  linuxUser: "u",
  sshKeys: ["ssh-ed25519 AAAA u"],
  instances,
});

describe("plan guard", () => {
  const before = spec(inst("a"), inst("b", { vmid: 2002 }));
  it.each<[string, PlanStep[], UserStackSpec, boolean, string?]>([
    ["creates and updates pass", [step("u/c/container", "create"), step("u/a/container", "update")], spec(inst("a"), inst("b"), inst("c")), true],
    ["deleting a removed instance passes", [step("u/b/container", "delete")], spec(inst("a")), true],
    ["deleting an instance still in the file is refused", [step("u/b/container", "delete")], before, false, "UnsafePlan"],
    ["an unasked replace is refused", [step("u/a/container", "replace")], before, false, "UnsafePlan"],
    ["an asked replace (vmid edited) passes", [step("u/a/container", "replace")], spec(inst("a", { vmid: 2100 }), inst("b", { vmid: 2002 })), true],
    ["firewall deletes are not container deletes", [step("u/b/firewall-rules", "delete", FW)], before, true],
    [
      "a protected instance is never replaced",
      [step("u/a/container", "replace")],
      spec(inst("a", { vmid: 2100, protect: true }), inst("b")),
      false,
      "Protected",
    ],
  ])("%s", (_n, steps, after, ok, reason) => {
    const v = guardPlan("u", steps, before, after, askedReplacements(before, after));
    expect(v.ok).toBe(ok);
    if (!v.ok) expect(v.reason).toBe(reason);
  });

  it("a protected instance removed from the file is not deleted", () => {
    const prot = spec(inst("a", { protect: true }), inst("b"));
    const v = guardPlan("u", [step("u/a/container", "delete")], prot, spec(inst("b")), new Set());
    expect(v).toMatchObject({ ok: false, reason: "Protected" });
  });
});
