// Table tests of replacementRisks: which stack-file changes destroy a container and which never do.
import { describe, expect, it } from "vitest";
import type { Instance, PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { replacementRisks } from "./replacement.js";
import { examplePlatform, exampleUser } from "./testing/test-support.js";

const platform = examplePlatform();
const alice = exampleUser("alice");

function editWeb(change: Partial<Instance>): UserStackSpec {
  return { ...alice, instances: alice.instances.map((i) => (i.name === "web" ? { ...i, ...change } : i)) };
}
function editPlatform(change: (p: PlatformSpec) => PlatformSpec): PlatformSpec {
  return change(structuredClone(platform));
}

describe("replacementRisks", () => {
  const safe: [string, UserStackSpec, PlatformSpec?][] = [
    ["power flip", editWeb({ power: "stopped" })],
    ["suspension", { ...alice, suspension: { reason: "points-exhausted", since: "2026-11-25T10:00:00Z" } }],
    ["bigger plan (cores, memory, disk growth)", editWeb({ plan: "large" })],
    ["adding a domain", editWeb({ domains: [{ subdomain: "blog", port: 80 }] })],
    ["rate limit", editWeb({ rateLimitMBps: 10 })],
    ["protect off", editWeb({ protect: false })],
    ["snapshots off", editWeb({ snapshots: undefined })],
    ["new ip", editWeb({ ip: "10.10.0.99" })],
    ["other ssh keys", { ...alice, sshKeys: ["ssh-ed25519 AAAAother other@host"] }],
    [
      "adding an instance",
      { ...alice, instances: [...alice.instances, { name: "new", template: "debian-12", plan: "small", power: "running", domains: [], protect: false }] },
    ],
    ["plan cores change in the catalog", alice, editPlatform((p) => ({ ...p, plans: { ...p.plans, medium: { ...p.plans.medium!, cores: 3 } } }))],
    ["bridge change", alice, editPlatform((p) => ({ ...p, proxmox: { ...p.proxmox, bridge: "vmbr1" } }))],
  ];
  it.each(safe)("%s does not replace anything", (_what, after, platformAfter) => {
    expect(replacementRisks(alice, after, platformAfter ?? platform, platform)).toEqual([]);
  });

  const risky: [string, UserStackSpec, PlatformSpec | undefined, { instance: string; field: string; argument: string; kind: string }[]][] = [
    ["vmid change", editWeb({ vmid: 2100 }), undefined, [{ instance: "web", field: "vmid", argument: "vmId", kind: "replace" }]],
    ["vmid removed", editWeb({ vmid: undefined }), undefined, [{ instance: "web", field: "vmid", argument: "vmId", kind: "replace" }]],
    [
      "template change (clone → OS template)",
      editWeb({ template: "ubuntu-24" }),
      undefined,
      [{ instance: "web", field: "template", argument: "clone", kind: "replace" }],
    ],
    ["smaller plan shrinks the disk", editWeb({ plan: "small" }), undefined, [{ instance: "web", field: "plan", argument: "disk.size", kind: "replace" }]],
    [
      "catalog template moved to another node",
      alice,
      editPlatform((p) => ({
        ...p,
        proxmox: { ...p.proxmox, nodes: ["pve1", "pve2"] },
        templates: { ...p.templates, "debian-12": { clone: { vmid: 9000, node: "pve2" } } },
      })),
      [{ instance: "web", field: "platform.templates.debian-12", argument: "clone", kind: "replace" }],
    ],
    [
      "catalog template source change",
      alice,
      editPlatform((p) => ({ ...p, templates: { ...p.templates, "debian-12": { clone: { vmid: 9001 } } } })),
      [{ instance: "web", field: "platform.templates.debian-12", argument: "clone", kind: "replace" }],
    ],
    [
      "catalog plan disk shrink",
      alice,
      editPlatform((p) => ({ ...p, plans: { ...p.plans, small: { ...p.plans.small!, diskGiB: 4 } } })),
      [{ instance: "dev", field: "platform.plans.small.diskGiB", argument: "disk.size", kind: "replace" }],
    ],
    [
      "datastore change",
      alice,
      editPlatform((p) => ({ ...p, proxmox: { ...p.proxmox, datastore: "fast-zfs" } })),
      [
        { instance: "web", field: "platform.proxmox.datastore", argument: "disk.datastoreId", kind: "replace" },
        { instance: "dev", field: "platform.proxmox.datastore", argument: "disk.datastoreId", kind: "replace" },
      ],
    ],
    [
      "node change",
      alice,
      editPlatform((p) => ({ ...p, proxmox: { ...p.proxmox, nodes: ["pve2", "pve1"] } })),
      [
        { instance: "web", field: "platform.proxmox.nodes", argument: "nodeName", kind: "replace" },
        { instance: "dev", field: "platform.proxmox.nodes", argument: "nodeName", kind: "replace" },
      ],
    ],
    [
      "instance removed",
      { ...alice, instances: alice.instances.filter((i) => i.name !== "dev") },
      undefined,
      [{ instance: "dev", field: "instances", argument: "urn", kind: "destroy" }],
    ],
    [
      "instance renamed (same vmid)",
      { ...alice, instances: alice.instances.map((i) => (i.name === "dev" ? { ...i, name: "lab" } : i)) },
      undefined,
      [{ instance: "lab", field: "name", argument: "urn", kind: "destroy" }],
    ],
  ];
  it.each(risky)("%s is reported", (_what, after, platformAfter, expected) => {
    const risks = replacementRisks(alice, after, platformAfter ?? platform, platform);
    expect(risks.map(({ reason: _r, ...rest }) => rest)).toEqual(expected);
    for (const r of risks) expect(r.reason.length).toBeGreaterThan(20);
  });

  it("says nothing about an instance that was never allocated (no container exists yet)", () => {
    const carol = exampleUser("carol");
    const unallocated = { ...carol, instances: carol.instances.map(({ vmid: _v, ip: _i, ...rest }) => rest) };
    expect(replacementRisks(unallocated, carol, platform)).toEqual([]);
  });

  it("skips an instance the validator would reject instead of throwing", () => {
    expect(replacementRisks(alice, editWeb({ template: "no-such-template" }), platform)).toEqual([]);
  });
});
