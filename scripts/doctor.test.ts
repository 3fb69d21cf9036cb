// `proxstack doctor` against the Proxmox simulator and a fake `pulumi` binary: a good setup passes, a bad one names every problem.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startProxmoxSimulator, type ProxmoxSimulator } from "../sim/proxmox/server.js";
import { PlatformSpecSchema } from "../schemas/index.js";
import { main } from "./proxstack.js";
import { hasPrivilege, pinnedPlugins, requiredPrivileges } from "./doctor.js";

const REPO = path.resolve(import.meta.dirname, "..");
const root = mkdtempSync(path.join(tmpdir(), "proxstack-doctor-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const platform = PlatformSpecSchema.parse(parse(readFileSync(path.join(REPO, "stacks", "platform.yaml"), "utf8")));

/** A fake `pulumi` at `<root>/bin/pulumi`: answers `version` and `plugin ls --json` as the CLI does; anything else fails. */
function fakeCli(name: string, version: string, plugins: { name: string; version: string }[]): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, "bin"), { recursive: true });
  const list = JSON.stringify(
    plugins.map((p) => ({
      name: p.name,
      kind: "resource",
      version: p.version,
      size: 1,
      installTime: "2026-11-30T00:00:00Z",
      lastUsedTime: "2026-11-30T00:00:00Z",
    })),
  );
  writeFileSync(
    path.join(dir, "bin", "pulumi"),
    [
      "#!/bin/sh",
      `if [ "$1" = version ]; then echo "v${version}"; exit 0; fi`,
      `if [ "$1" = plugin ] && [ "$2" = ls ]; then echo '${list}'; exit 0; fi`,
      'echo "fake pulumi: unexpected: $*" >&2; exit 1',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return dir;
}

let sim: ProxmoxSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function doctor(name: string, simOpts: Partial<Parameters<typeof startProxmoxSimulator>[0]>, cliRoot: string) {
  const data = path.join(root, name);
  mkdirSync(path.join(data, "stacks"), { recursive: true });
  copyFileSync(path.join(REPO, "stacks", "platform.yaml"), path.join(data, "stacks", "platform.yaml"));
  sim = await startProxmoxSimulator({ dbPath: path.join(data, "pve.db"), nodes: ["pve1"], authFailureDelayMs: 0, ...simOpts });
  let stdout = "";
  let stderr = "";
  const code = await main(["doctor", "--json", "--pulumi-root", cliRoot], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PROXSTACK_DATA_DIR: data, PROXMOX_VE_ENDPOINT: sim.url, PROXMOX_VE_API_TOKEN: sim.token, PULUMI_HOME: path.join(data, "pulumi-home") },
    cwd: data,
  });
  const checks = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { check: string; ok: boolean; detail: string });
  return { code, checks, stderr, byName: (c: string) => checks.find((x) => x.check === c) };
}

describe("proxstack doctor", () => {
  it("passes a good setup: every privilege, an unprivileged template no bigger than any plan, the bridge, a new enough CLI with the pinned plugins", async () => {
    const r = await doctor("good", { templates: [{ vmid: 9000, diskGiB: 8 }] }, fakeCli("cli-good", "3.248.0", pinnedPlugins()));
    expect(r.stderr).toBe("");
    expect(r.checks.map((c) => [c.check, c.ok])).toEqual([
      ["proxmox.api", true],
      ["proxmox.permissions", true],
      ["proxmox.bridge", true],
      ["proxmox.templates", true],
      ["pulumi.cli", true],
      ["pulumi.plugins", true],
    ]);
    expect(r.byName("proxmox.templates")?.detail).toBe("debian-12 (vmid 9000, 8 GiB), ubuntu-24 (OS template volume, not checked)");
    expect(r.byName("pulumi.cli")?.detail).toBe("Pulumi CLI 3.248.0 (needs 3.248.0 or newer)");
    expect(r.code).toBe(0);
  });

  it("fails a bad setup and names each problem: missing privileges, a privileged oversized template, no template, an old CLI", async () => {
    // The token may do everything on /vms but cannot clone, has no datastore space and no SDN.Use.
    const permissions = {
      "/vms": {
        "VM.Allocate": 1,
        "VM.Audit": 1,
        "VM.Backup": 1,
        "VM.Config.CPU": 1,
        "VM.Config.Disk": 1,
        "VM.Config.Memory": 1,
        "VM.Config.Network": 1,
        "VM.Config.Options": 1,
        "VM.PowerMgmt": 1,
        "VM.Snapshot": 1,
      },
      "/nodes/pve1": { "Sys.Audit": 0 },
      "/storage": { "Datastore.Audit": 1 },
    };
    const r = await doctor("bad", { templates: [{ vmid: 9000, diskGiB: 10, unprivileged: false }], permissions }, fakeCli("cli-old", "3.150.0", []));
    expect(r.code).toBe(1);
    expect(r.byName("proxmox.api")?.ok).toBe(true);
    expect(r.byName("proxmox.permissions")).toEqual({
      check: "proxmox.permissions",
      ok: false,
      detail:
        "the token lacks /vms/9000: VM.Clone; /storage/local-lvm: Datastore.AllocateSpace; /sdn/zones/localnetwork/vmbr0: SDN.Use (see docs/pulumi-cli.md for a pveum recipe)",
    });
    expect(r.byName("proxmox.bridge")?.ok).toBe(true);
    expect(r.byName("proxmox.templates")).toEqual({
      check: "proxmox.templates",
      ok: false,
      detail:
        "template debian-12 (vmid 9000 on pve1) is privileged (proxstack's containers are unprivileged; clones must match); " +
        "template debian-12 (vmid 9000 on pve1) has a 10 GiB disk, bigger than plan(s) small (8 GiB): a clone cannot shrink",
    });
    expect(r.byName("pulumi.cli")).toMatchObject({
      ok: false,
      detail: expect.stringContaining("the Pulumi CLI is version 3.150.0; proxstack needs 3.248.0 or newer"),
    });
    expect(r.byName("pulumi.plugins")).toMatchObject({ ok: false, detail: "not checked: no usable Pulumi CLI" });
  });

  it("names a template the platform lists but Proxmox lacks, and plugins the CLI lacks", async () => {
    const cli = fakeCli("cli-no-plugins", "3.250.0", [{ name: "cloudflare", version: "6.22.1" }]);
    const r = await doctor("missing", { templates: [] }, cli);
    expect(r.byName("proxmox.templates")).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^template debian-12: vmid 9000 on pve1 cannot be read: .*does not exist/),
    });
    expect(r.byName("pulumi.plugins")).toMatchObject({
      ok: false,
      detail: `missing resource plugin(s) proxmoxve ${pinnedPlugins()[0]?.version}: install them (docs/pulumi-cli.md, Offline hosts)`,
    });
    expect(r.code).toBe(1);
  });

  it("privileges hold where granted, or below an ancestor that propagates them", () => {
    const perms = { "/": { "Sys.Audit": 0 }, "/vms": { "VM.Allocate": 1 }, "/storage/local-lvm": { "Datastore.AllocateSpace": 0 } };
    expect(hasPrivilege(perms, "/vms/2000", "VM.Allocate")).toBe(true);
    expect(hasPrivilege(perms, "/storage/local-lvm", "Datastore.AllocateSpace")).toBe(true);
    expect(hasPrivilege(perms, "/nodes/pve1", "Sys.Audit")).toBe(false);
    expect(hasPrivilege(perms, "/", "Sys.Audit")).toBe(true);
    expect(requiredPrivileges(platform, 7).some((r) => r.privs.includes("SDN.Use"))).toBe(false);
    expect(requiredPrivileges(platform, 8).find((r) => r.privs.includes("SDN.Use"))?.path).toBe("/sdn/zones/localnetwork/vmbr0");
  });
});
