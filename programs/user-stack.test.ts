// The user-stack program under Pulumi's mock runtime: resources, inputs that matter, power, domains, isolation, secrets.
import { describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { UserStackOutputsSchema, type UserStackSpec } from "../schemas/index.js";
import { mockRun, type Registration } from "../runners/simulation/mock-run.js";
import {
  CONTAINER,
  FW_OPTIONS,
  FW_RULES,
  PROVISIONING_KEY,
  PVE_TOKEN,
  byName,
  examplePlatform,
  exampleUser,
  inputDiff,
  resourceSet,
  userInput,
} from "./testing/test-support.js";
import { userStackProgram } from "./user-stack.js";

const platform = examplePlatform();

async function runUser(spec: UserStackSpec, peers: string[] = []) {
  return mockRun(() => userStackProgram(userInput(spec, platform, peers)), { stack: spec.name });
}

function instanceResources(user: string, instance: string): string[] {
  return [
    `${CONTAINER} ${user}/${instance}/container`,
    `${FW_OPTIONS} ${user}/${instance}/firewall-options`,
    `${FW_RULES} ${user}/${instance}/firewall-rules`,
    `proxstack:user:Instance ${user}/${instance}`,
  ];
}

function rulesOf(regs: Registration[], name: string): Record<string, unknown>[] {
  return byName(regs, name).inputs.rules as Record<string, unknown>[];
}

describe("user stack program", () => {
  it("alice: two containers with their firewalls, key inputs from the file and the catalog", async () => {
    const { registrations: regs, outputs } = await runUser(exampleUser("alice"), ["10.99.0.5"]);
    expect(resourceSet(regs)).toEqual(
      [
        ...instanceResources("alice", "dev").slice(0, 3),
        ...instanceResources("alice", "web").slice(0, 3),
        "proxstack:user:Instance alice/dev",
        "proxstack:user:Instance alice/web",
        "pulumi:providers:proxmoxve proxmox",
      ].sort(),
    );

    const web = byName(regs, "alice/web/container");
    expect(web.inputs).toMatchObject({
      vmId: 2001,
      nodeName: "pve1",
      started: true,
      startOnBoot: true,
      protection: true,
      unprivileged: true,
      clone: { vmId: 9000, datastoreId: "local-lvm", full: true },
      cpu: { cores: 2 },
      memory: { dedicated: 2048, swap: 1024 },
      disk: { datastoreId: "local-lvm", size: 20 },
      features: { nesting: true },
      networkInterfaces: [{ name: "eth0", bridge: "vmbr0", firewall: true, rateLimit: 50 }],
      initialization: { hostname: "alice-web", ipConfigs: [{ ipv4: { address: "10.10.0.21/24", gateway: "10.10.0.1" } }], dns: { servers: ["10.10.0.1"] } },
      tags: ["instance-web", "proxstack", "user-alice"],
    });
    expect(web.inputs).not.toHaveProperty("operatingSystem");
    // Cloned: Proxmox takes no keys when configuring a clone; the template must carry the provisioning key.
    expect(web.inputs).not.toHaveProperty("initialization.userAccount");
    expect(web.options).toMatchObject({ protect: true, deleteBeforeReplace: true, ignoreChanges: ["initialization.userAccount"] });
    expect(String(web.inputs.description)).toContain("stacks/alice.yaml");

    const dev = byName(regs, "alice/dev/container");
    expect(dev.inputs).toMatchObject({
      vmId: 2002,
      started: false,
      protection: false,
      operatingSystem: { templateFileId: "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", type: "ubuntu" },
      cpu: { cores: 1 },
      memory: { dedicated: 512, swap: 512 },
      disk: { size: 8 },
      initialization: { hostname: "alice-dev", userAccount: { keys: [PROVISIONING_KEY] } },
    });
    expect(dev.inputs).not.toHaveProperty("clone");
    expect((dev.inputs.networkInterfaces as object[])[0]).not.toHaveProperty("rateLimit");
    expect(dev.options.protect).toBe(false);

    for (const inst of ["web", "dev"]) {
      const opts = byName(regs, `alice/${inst}/firewall-options`);
      expect(opts.inputs).toMatchObject({ enabled: true, inputPolicy: "DROP", outputPolicy: "ACCEPT", ipfilter: true, nodeName: "pve1" });
      expect(opts.inputs.containerId).toBe(inst === "web" ? 2001 : 2002);
      expect(opts.options.replaceWith).toEqual([byName(regs, `alice/${inst}/container`).urn]);
      expect(byName(regs, `alice/${inst}/container`).urn).toContain(`proxstack:user:Instance$`);
    }
    expect(rulesOf(regs, "alice/web/firewall-rules")).toEqual([
      { type: "in", action: "ACCEPT", source: "10.99.0.5", iface: "net0", comment: "proxstack: VPN peer of alice" },
      { type: "in", action: "ACCEPT", source: "10.10.0.3", iface: "net0", proto: "tcp", dport: "80", comment: "proxstack: tunnel connector to port 80" },
      { type: "in", action: "ACCEPT", source: "10.10.0.3", iface: "net0", proto: "tcp", dport: "8080", comment: "proxstack: tunnel connector to port 8080" },
      { type: "in", action: "ACCEPT", source: "10.10.0.2", iface: "net0", proto: "tcp", dport: "22", comment: "proxstack: engine host SSH (hooks)" },
    ]);
    // No domains on dev: the tunnel connector gets nothing.
    expect(rulesOf(regs, "alice/dev/firewall-rules").map((r) => r.source)).toEqual(["10.99.0.5", "10.10.0.2"]);

    expect(UserStackOutputsSchema.parse(outputs)).toEqual({
      stack: "alice",
      suspended: false,
      instances: [
        { name: "web", vmid: 2001, ip: "10.10.0.21", hostname: "alice-web", power: "running" },
        { name: "dev", vmid: 2002, ip: "10.10.0.22", hostname: "alice-dev", power: "stopped" },
      ],
      vpnPeerAddresses: ["10.99.0.5"],
    });
  });

  it("bob is suspended: his container is declared stopped although power says running", async () => {
    const bob = exampleUser("bob");
    expect(bob.instances[0]?.power).toBe("running");
    const { registrations: regs, outputs } = await runUser(bob);
    expect(resourceSet(regs)).toEqual([...instanceResources("bob", "app"), "pulumi:providers:proxmoxve proxmox"].sort());
    expect(byName(regs, "bob/app/container").inputs).toMatchObject({ vmId: 2003, started: false, cpu: { cores: 1 } });
    expect(rulesOf(regs, "bob/app/firewall-rules").map((r) => `${String(r.source)}:${String(r.dport ?? "*")}`)).toEqual(["10.10.0.3:3000", "10.10.0.2:22"]);
    expect(UserStackOutputsSchema.parse(outputs)).toMatchObject({ suspended: true, instances: [{ name: "app", power: "stopped" }] });

    const lifted = await runUser({ ...bob, suspension: undefined });
    expect(inputDiff(regs, lifted.registrations)).toEqual(["bob/app/container: started"]);
  });

  it("carol, once allocated, gets one container", async () => {
    const { registrations: regs } = await runUser(exampleUser("carol"));
    expect(resourceSet(regs)).toEqual([...instanceResources("carol", "lab"), "pulumi:providers:proxmoxve proxmox"].sort());
    expect(byName(regs, "carol/lab/container").inputs).toMatchObject({ vmId: 2004, initialization: { ipConfigs: [{ ipv4: { address: "10.10.0.24/24" } }] } });
  });

  it("refuses an instance without allocation, naming it", async () => {
    const raw = { ...exampleUser("carol"), instances: exampleUser("carol").instances.map(({ vmid: _v, ip: _i, ...rest }) => rest) };
    const err = await runUser(raw).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxstackError);
    expect(err).toMatchObject({ kind: "stall", code: "allocation-missing" });
    expect((err as Error).message).toContain("carol/lab");
    expect((err as Error).message).toContain("vmid and ip");
  });

  it("flipping power changes only `started`", async () => {
    const alice = exampleUser("alice");
    const before = await runUser(alice);
    const flipped = { ...alice, instances: alice.instances.map((i) => (i.name === "dev" ? { ...i, power: "running" as const } : i)) };
    const after = await runUser(flipped);
    expect(inputDiff(before.registrations, after.registrations)).toEqual(["alice/dev/container: started"]);
    expect(byName(after.registrations, "alice/dev/container").inputs.started).toBe(true);
  });

  it("resizing cores and memory touches only cpu and memory", async () => {
    const alice = exampleUser("alice");
    const before = await runUser(alice);
    const after = await runUser({ ...alice, instances: alice.instances.map((i) => (i.name === "dev" ? { ...i, plan: "medium" } : i)) });
    expect(inputDiff(before.registrations, after.registrations)).toEqual([
      "alice/dev/container: cpu.cores",
      "alice/dev/container: disk.size",
      "alice/dev/container: memory.dedicated",
      "alice/dev/container: memory.swap",
    ]);
  });

  it("a domain on a port already open leaves the user stack identical; a new port changes only the firewall rules", async () => {
    const alice = exampleUser("alice");
    const before = await runUser(alice);
    const addDomain = (port: number) => ({
      ...alice,
      instances: alice.instances.map((i) => (i.name === "web" ? { ...i, domains: [...i.domains, { subdomain: "blog", port }] } : i)),
    });
    expect(inputDiff(before.registrations, (await runUser(addDomain(80))).registrations)).toEqual([]);
    const newPort = await runUser(addDomain(9000));
    const diffs = inputDiff(before.registrations, newPort.registrations);
    expect(diffs.length).toBeGreaterThan(0);
    expect(diffs.filter((d) => !d.startsWith("alice/web/firewall-rules: rules."))).toEqual([]);
    expect(rulesOf(newPort.registrations, "alice/web/firewall-rules")).toContainEqual(
      expect.objectContaining({ source: "10.10.0.3", dport: "9000", proto: "tcp" }),
    );
  });

  it("two users never share an allowance: each VPN address reaches only its own user's containers", async () => {
    const peers: Record<string, string[]> = { alice: ["10.99.0.5"], bob: ["10.99.0.6"], carol: ["10.99.0.7", "10.99.0.8"] };
    const shared = new Set([platform.network.engineHost, platform.network.tunnelConnector]);
    const sourcesByUser = new Map<string, Set<string>>();
    for (const user of ["alice", "bob", "carol"] as const) {
      const { registrations: regs } = await runUser(exampleUser(user), peers[user]);
      const sources = new Set<string>();
      for (const r of regs.filter((x) => x.type === FW_RULES)) {
        for (const rule of r.inputs.rules as Record<string, unknown>[]) {
          expect(rule).toMatchObject({ type: "in", action: "ACCEPT", iface: "net0" });
          // A single address, never a network or an empty (= any) source.
          expect(rule.source).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
          sources.add(String(rule.source));
        }
      }
      for (const r of regs.filter((x) => x.type === FW_OPTIONS)) expect(r.inputs.inputPolicy).toBe("DROP");
      sourcesByUser.set(user, sources);
    }
    const users = [...sourcesByUser.keys()];
    for (const a of users) {
      expect([...sourcesByUser.get(a)!].filter((s) => !shared.has(s)).sort()).toEqual([...peers[a]!].sort());
      for (const b of users.filter((x) => x !== a)) {
        const overlap = [...sourcesByUser.get(a)!].filter((s) => sourcesByUser.get(b)!.has(s) && !shared.has(s));
        expect(overlap, `${a} and ${b} share allowances`).toEqual([]);
      }
    }
  });

  it("refuses VPN peer addresses outside the VPN subnet", async () => {
    await expect(runUser(exampleUser("alice"), ["10.10.0.50"])).rejects.toMatchObject({ code: "vpn-peer-outside-subnet", kind: "stall" });
    await expect(runUser(exampleUser("alice"), ["10.99.0.0/24"])).rejects.toMatchObject({ code: "vpn-peer-outside-subnet" });
  });

  it("keeps the Proxmox token secret and out of every other resource and the outputs", async () => {
    const { registrations: regs, outputs } = await runUser(exampleUser("alice"));
    const provider = byName(regs, "proxmox");
    expect(provider.type).toBe("pulumi:providers:proxmoxve");
    expect(provider.inputs.apiToken).toBe(PVE_TOKEN);
    expect(provider.secretPaths).toEqual(["apiToken"]);
    for (const r of regs.filter((x) => x !== provider)) expect(JSON.stringify(r.inputs)).not.toContain(PVE_TOKEN);
    expect(JSON.stringify(outputs)).not.toContain(PVE_TOKEN);
    for (const r of regs.filter((x) => x.custom && x !== provider)) expect(r.provider).toBe(`${provider.urn}::${provider.id}`);
  });

  it("runs several programs one after another in one process with the same results", async () => {
    const first = await runUser(exampleUser("alice"));
    await runUser(exampleUser("bob"));
    await runUser(exampleUser("carol"));
    const again = await runUser(exampleUser("alice"));
    expect(resourceSet(again.registrations)).toEqual(resourceSet(first.registrations));
    expect(inputDiff(first.registrations, again.registrations)).toEqual([]);
    expect(again.outputs).toEqual(first.outputs);
  });

  it("refuses a clone template whose catalog disk is bigger than the plan's (a clone cannot shrink) before declaring anything", async () => {
    const big = { ...platform, templates: { ...platform.templates, "debian-12": { clone: { vmid: 9000, diskGiB: 30 } } } };
    const alice = exampleUser("alice");
    const err = await mockRun(() => userStackProgram(userInput(alice, big)), { stack: "alice" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxstackError);
    expect(err).toMatchObject({ code: "template-disk-too-big", kind: "stall" });
    expect((err as Error).message).toBe(
      'instance alice/web: template "debian-12" has a 30 GiB disk, more than plan "medium" (20 GiB); a clone cannot shrink: choose a bigger plan or a smaller template',
    );
    const fits = { ...platform, templates: { ...platform.templates, "debian-12": { clone: { vmid: 9000, diskGiB: 20 } } } };
    const { registrations } = await mockRun(() => userStackProgram(userInput(alice, fits)), { stack: "alice" });
    expect(byName(registrations, "alice/web/container").inputs).toMatchObject({ disk: { size: 20 } });
  });
});
