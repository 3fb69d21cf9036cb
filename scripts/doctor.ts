// `proxstack doctor`: read-only checks of a real installation — Proxmox token privileges, templates, bridge, Pulumi CLI and plugins.
import { readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { automation } from "@pulumi/pulumi";
import { parse } from "yaml";
import { createProxmoxClient, type ProxmoxClient } from "../clients/proxmox/client.js";
import { loadConfig } from "../schemas/config.js";
import { PlatformSpecSchema, type PlatformSpec } from "../schemas/index.js";
import { PLATFORM_FILE } from "../programs/naming.js";
import { getPulumiCommand, MIN_PULUMI_CLI_VERSION } from "../runners/pulumi/workspace.js";
import { EXIT, parseFlags, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack doctor [--json] [--pulumi-root DIR]

Read-only checks of a real installation, before the first apply. Reads the same environment as
serve (PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN, PROXSTACK_STACKS_DIR …) and the platform file,
and changes nothing:

  proxmox.api          the API answers with the token
  proxmox.permissions  the token's effective privileges (GET /access/permissions): VM.* on the
                       VMID range, VM.Clone on each template, Datastore.AllocateSpace on the
                       datastore, SDN.Use on the bridge's zone (PVE 8+), Sys.Audit on each node
  proxmox.bridge       each node has the platform's bridge
  proxmox.templates    each clone template exists, is a template, is unprivileged, and its disk is
                       no bigger than any plan's (and matches the catalog's diskGiB when given)
  pulumi.cli           the Pulumi CLI runs and is at least ${MIN_PULUMI_CLI_VERSION}
  pulumi.plugins       the provider plugins the SDKs pin are installed (pulumi plugin ls)

Options:
  --json             one JSON line per check on stdout: {"check","ok","detail"}
  --pulumi-root DIR  folder holding bin/pulumi (default: pulumi on PATH)

Exit status: 0 when every check passes, 1 when one fails, 2 on a usage error.
`;

export interface DoctorCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface DoctorDeps {
  pve: ProxmoxClient;
  platform: PlatformSpec;
  /** Folder holding bin/pulumi; PATH when absent. */
  pulumiRoot?: string;
  /** Environment for `pulumi plugin ls` (PULUMI_HOME …). */
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Privileges the engine's token needs, per ACL path (bpg provider operations on LXC; see docs/pulumi-cli.md). */
export function requiredPrivileges(platform: PlatformSpec, pveMajor: number): { path: string; privs: string[] }[] {
  const out = [
    {
      path: `/vms/${platform.proxmox.vmidRange.from}`,
      privs: [
        "VM.Allocate",
        "VM.Audit",
        "VM.Backup",
        "VM.Config.CPU",
        "VM.Config.Disk",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.PowerMgmt",
        "VM.Snapshot",
      ],
    },
    ...Object.values(platform.templates).flatMap((t) => ("clone" in t ? [{ path: `/vms/${t.clone.vmid}`, privs: ["VM.Audit", "VM.Clone"] }] : [])),
    { path: `/storage/${platform.proxmox.datastore}`, privs: ["Datastore.AllocateSpace", "Datastore.Audit"] },
    ...platform.proxmox.nodes.map((n) => ({ path: `/nodes/${n}`, privs: ["Sys.Audit"] })),
  ];
  // PVE 8 checks SDN.Use on the bridge's zone for every NIC; a plain Linux bridge is in zone "localnetwork".
  if (pveMajor >= 8) out.push({ path: `/sdn/zones/localnetwork/${platform.proxmox.bridge}`, privs: ["SDN.Use"] });
  return out;
}

/** Whether `priv` holds at `at`: granted there, or on an ancestor with propagation. */
export function hasPrivilege(perms: Record<string, Record<string, number>>, at: string, priv: string): boolean {
  if (perms[at]?.[priv] !== undefined) return true;
  const parts = at.split("/").filter(Boolean);
  for (let i = parts.length - 1; i >= 0; i--) {
    const ancestor = `/${parts.slice(0, i).join("/")}`;
    if (perms[ancestor]?.[priv] === 1) return true;
  }
  return false;
}

/** A PVE disk size (`8G`, `512M`, `1T`) in GiB. */
function sizeGiB(size: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(size);
  if (!m) return undefined;
  const factor = { K: 1 / (1024 * 1024), M: 1 / 1024, G: 1, T: 1024 }[(m[2] ?? "G") as "K" | "M" | "G" | "T"];
  return Number(m[1]) * factor;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).trim();

/** Runs every check; never throws, never writes. */
export async function runDoctor(deps: DoctorDeps): Promise<DoctorCheck[]> {
  const { pve, platform } = deps;
  const checks: DoctorCheck[] = [];
  const add = (check: string, problems: string[], okDetail: string) =>
    checks.push({ check, ok: problems.length === 0, detail: problems.length === 0 ? okDetail : problems.join("; ") });

  let major = 0;
  try {
    const v = await pve.version();
    major = Number(v.version.split(".")[0]) || 0;
    add("proxmox.api", [], `Proxmox VE ${v.version}`);
  } catch (err) {
    add("proxmox.api", [`cannot reach the Proxmox API with the token: ${message(err)}`], "");
    return [...checks, ...(await pulumiChecks(deps))];
  }

  try {
    const perms = await pve.permissions();
    const missing = requiredPrivileges(platform, major).flatMap((r) => {
      const lacking = r.privs.filter((p) => !hasPrivilege(perms, r.path, p));
      return lacking.length > 0 ? [`${r.path}: ${lacking.join(", ")}`] : [];
    });
    add(
      "proxmox.permissions",
      missing.length > 0 ? [`the token lacks ${missing.join("; ")} (see docs/pulumi-cli.md for a pveum recipe)`] : [],
      "the token holds every privilege proxstack uses",
    );
  } catch (err) {
    add("proxmox.permissions", [`cannot read the token's permissions: ${message(err)}`], "");
  }

  const bridgeProblems: string[] = [];
  for (const node of platform.proxmox.nodes) {
    try {
      const nets = await pve.networks(node, "any_bridge");
      if (!nets.some((n) => n.iface === platform.proxmox.bridge)) {
        bridgeProblems.push(`node ${node} has no bridge ${platform.proxmox.bridge} (it has: ${nets.map((n) => n.iface).join(", ") || "none"})`);
      }
    } catch (err) {
      bridgeProblems.push(`node ${node}: cannot list its networks: ${message(err)}`);
    }
  }
  add("proxmox.bridge", bridgeProblems, `bridge ${platform.proxmox.bridge} on ${platform.proxmox.nodes.join(", ")}`);

  const plans = Object.entries(platform.plans);
  const smallest = Math.min(...plans.map(([, p]) => p.diskGiB));
  const templateProblems: string[] = [];
  const seen: string[] = [];
  for (const [name, t] of Object.entries(platform.templates)) {
    if (!("clone" in t)) {
      seen.push(`${name} (OS template volume, not checked)`);
      continue;
    }
    const node = t.clone.node ?? platform.proxmox.nodes[0] ?? "";
    try {
      const cfg = await pve.getConfig(node, t.clone.vmid);
      const size = sizeGiB(/(?:^|,)size=([^,]+)/.exec(String(cfg.rootfs ?? ""))?.[1] ?? "");
      const problems = [
        Number(cfg.template) !== 1 ? "is not a template (convert it: pct template)" : undefined,
        Number(cfg.unprivileged) !== 1 ? "is privileged (proxstack's containers are unprivileged; clones must match)" : undefined,
        size === undefined ? `has no readable root disk size (rootfs ${String(cfg.rootfs ?? "absent")})` : undefined,
        size !== undefined && size > smallest
          ? `has a ${size} GiB disk, bigger than plan(s) ${plans
              .filter(([, p]) => p.diskGiB < size)
              .map(([n, p]) => `${n} (${p.diskGiB} GiB)`)
              .join(", ")}: a clone cannot shrink`
          : undefined,
        size !== undefined && t.clone.diskGiB !== undefined && t.clone.diskGiB !== size
          ? `has a ${size} GiB disk but the catalog says diskGiB ${t.clone.diskGiB}`
          : undefined,
      ].filter((p): p is string => p !== undefined);
      for (const p of problems) templateProblems.push(`template ${name} (vmid ${t.clone.vmid} on ${node}) ${p}`);
      seen.push(`${name} (vmid ${t.clone.vmid}, ${size ?? "?"} GiB)`);
    } catch (err) {
      templateProblems.push(`template ${name}: vmid ${t.clone.vmid} on ${node} cannot be read: ${message(err)}`);
    }
  }
  add("proxmox.templates", templateProblems, seen.join(", "));

  return [...checks, ...(await pulumiChecks(deps))];
}

/** The provider plugin versions the installed SDK packages pin. */
export function pinnedPlugins(): { name: string; version: string }[] {
  const require = createRequire(import.meta.url);
  const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;
  return [
    { name: "proxmoxve", version: version("@muhlba91/pulumi-proxmoxve") },
    { name: "cloudflare", version: version("@pulumi/cloudflare") },
  ];
}

async function pulumiChecks(deps: DoctorDeps): Promise<DoctorCheck[]> {
  let cmd: Awaited<ReturnType<typeof getPulumiCommand>>;
  try {
    cmd = await getPulumiCommand(deps.pulumiRoot !== undefined ? { root: deps.pulumiRoot } : {});
  } catch (err) {
    return [
      { check: "pulumi.cli", ok: false, detail: message(err) },
      { check: "pulumi.plugins", ok: false, detail: "not checked: no usable Pulumi CLI" },
    ];
  }
  const out: DoctorCheck[] = [
    { check: "pulumi.cli", ok: true, detail: `Pulumi CLI ${cmd.version?.toString() ?? "?"} (needs ${MIN_PULUMI_CLI_VERSION} or newer)` },
  ];
  try {
    const env = Object.fromEntries(Object.entries(deps.env).filter((e): e is [string, string] => e[1] !== undefined && e[0].startsWith("PULUMI_")));
    // `pulumi plugin ls --json`, through a workspace that only lists (no project, no stack).
    const ws = await automation.LocalWorkspace.create({ workDir: deps.cwd, pulumiCommand: cmd, envVars: env });
    const installed = await ws.listPlugins();
    const missing = pinnedPlugins().filter(
      (p) => !installed.some((i) => i.kind === "resource" && i.name === p.name && i.version?.replace(/^v/, "") === p.version),
    );
    out.push({
      check: "pulumi.plugins",
      ok: missing.length === 0,
      detail:
        missing.length === 0
          ? pinnedPlugins()
              .map((p) => `${p.name} ${p.version}`)
              .join(", ")
          : `missing resource plugin(s) ${missing.map((p) => `${p.name} ${p.version}`).join(", ")}: install them (docs/pulumi-cli.md, Offline hosts)`,
    });
  } catch (err) {
    out.push({ check: "pulumi.plugins", ok: false, detail: `cannot list plugins: ${message(err)}` });
  }
  return out;
}

export const command: Command = {
  summary: "check Proxmox token privileges, templates, bridge, Pulumi CLI and plugins (read-only)",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(args, { json: { type: "boolean" }, "pulumi-root": { type: "string" } }, false);
    const config = loadConfig(io.env, io.cwd);
    if (!config.proxmox) {
      io.stderr("proxstack doctor: checks a real Proxmox: set PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN (simulation mode needs no doctor)\n");
      return EXIT.failed;
    }
    const file = path.join(config.stacksDir, PLATFORM_FILE);
    let platform: PlatformSpec;
    try {
      const parsed = PlatformSpecSchema.safeParse(parse(readFileSync(file, "utf8")));
      if (!parsed.success) {
        io.stderr(
          `proxstack doctor: ${file} is invalid (run proxstack validate):\n  ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n  ")}\n`,
        );
        return EXIT.failed;
      }
      platform = parsed.data;
    } catch (err) {
      io.stderr(`proxstack doctor: cannot read ${file}: ${message(err)}\n`);
      return EXIT.failed;
    }
    const { proxmox } = config;
    const tls =
      proxmox.insecure || proxmox.fingerprint
        ? { tls: { insecure: proxmox.insecure, ...(proxmox.fingerprint ? { fingerprint: proxmox.fingerprint } : {}) } }
        : {};
    const pve = createProxmoxClient({ endpoint: proxmox.endpoint, token: proxmox.token, retry: { attempts: 1 }, ...tls });
    const root = values["pulumi-root"];
    const checks = await runDoctor({
      pve,
      platform,
      env: io.env,
      cwd: io.cwd,
      ...(typeof root === "string" ? { pulumiRoot: path.resolve(io.cwd, root) } : {}),
    });
    for (const c of checks) {
      io.stdout(values.json ? `${JSON.stringify(c)}\n` : `${c.ok ? "ok  " : "FAIL"}  ${c.check.padEnd(20)} ${c.detail}\n`);
    }
    return checks.every((c) => c.ok) ? EXIT.ok : EXIT.failed;
  },
};
