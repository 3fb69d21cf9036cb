// Applies container and firewall registrations to Proxmox VE through SimProxmox: read first, write only what differs.
import { z } from "zod";
import { ProxstackError } from "../../lib/errors.js";
import { parseInputs as parse } from "./plan.js";
import type { PveContainer, PveParams, SimProxmox } from "./apis.js";

/** The ContainerLegacy inputs the simulation applies (programs/container.ts ContainerArgs). */
const ContainerInputsSchema = z.object({
  nodeName: z.string(),
  vmId: z.number().int(),
  clone: z.object({ vmId: z.number().int(), nodeName: z.string().optional(), datastoreId: z.string().optional(), full: z.boolean().optional() }).optional(),
  operatingSystem: z.object({ templateFileId: z.string(), type: z.string().optional() }).optional(),
  unprivileged: z.boolean().optional(),
  features: z.object({ nesting: z.boolean().optional() }).optional(),
  cpu: z.object({ cores: z.number().int() }).optional(),
  memory: z.object({ dedicated: z.number().int(), swap: z.number().int().optional() }).optional(),
  disk: z.object({ datastoreId: z.string(), size: z.number() }).optional(),
  networkInterfaces: z
    .array(z.object({ name: z.string(), bridge: z.string().optional(), firewall: z.boolean().optional(), rateLimit: z.number().optional() }))
    .optional(),
  initialization: z
    .object({
      hostname: z.string().optional(),
      ipConfigs: z.array(z.object({ ipv4: z.object({ address: z.string().optional(), gateway: z.string().optional() }).optional() })).optional(),
      dns: z.object({ servers: z.array(z.string()).optional() }).optional(),
      userAccount: z.object({ keys: z.array(z.string()).optional() }).optional(),
    })
    .optional(),
  started: z.boolean().optional(),
  startOnBoot: z.boolean().optional(),
  protection: z.boolean().optional(),
  tags: z.array(z.string()).optional(),
  description: z.string().optional(),
});
export type ContainerInputs = z.infer<typeof ContainerInputsSchema>;

const FirewallTargetSchema = z.object({ nodeName: z.string(), containerId: z.number().int() });
const FirewallOptionsSchema = FirewallTargetSchema.extend({
  enabled: z.boolean().optional(),
  inputPolicy: z.string().optional(),
  outputPolicy: z.string().optional(),
  macfilter: z.boolean().optional(),
  ipfilter: z.boolean().optional(),
  dhcp: z.boolean().optional(),
  ndp: z.boolean().optional(),
  radv: z.boolean().optional(),
  logLevelIn: z.string().optional(),
  logLevelOut: z.string().optional(),
});
const FirewallRulesSchema = FirewallTargetSchema.extend({
  rules: z
    .array(
      z.object({
        type: z.string(),
        action: z.string(),
        source: z.string().optional(),
        dest: z.string().optional(),
        iface: z.string().optional(),
        proto: z.string().optional(),
        dport: z.string().optional(),
        sport: z.string().optional(),
        macro: z.string().optional(),
        comment: z.string().optional(),
        enabled: z.boolean().optional(),
      }),
    )
    .default([]),
});

export const parseContainer = (inputs: unknown): ContainerInputs => parse(ContainerInputsSchema, inputs, "container");

const bit = (b: boolean | undefined): number => (b ? 1 : 0);

/** The PVE config keys the container's inputs determine (disk size and power are handled apart). */
export function desiredConfig(c: ContainerInputs): PveParams {
  const nic = c.networkInterfaces?.[0];
  const ip = c.initialization?.ipConfigs?.[0]?.ipv4;
  const net0 = nic
    ? [
        `name=${nic.name}`,
        `bridge=${nic.bridge ?? "vmbr0"}`,
        `firewall=${bit(nic.firewall)}`,
        ip?.address ? `ip=${ip.address}` : "",
        ip?.gateway ? `gw=${ip.gateway}` : "",
        nic.rateLimit !== undefined ? `rate=${nic.rateLimit}` : "",
      ]
        .filter(Boolean)
        .join(",")
    : undefined;
  const p: PveParams = {
    cores: c.cpu?.cores ?? 1,
    memory: c.memory?.dedicated ?? 512,
    swap: c.memory?.swap ?? 0,
    onboot: bit(c.startOnBoot ?? true),
    protection: bit(c.protection),
    features: `nesting=${bit(c.features?.nesting)}`,
  };
  if (c.initialization?.hostname) p.hostname = c.initialization.hostname;
  if (net0) p.net0 = net0;
  if (c.initialization?.dns?.servers?.length) p.nameserver = c.initialization.dns.servers.join(" ");
  if (c.description !== undefined) p.description = c.description;
  if (c.tags?.length) p.tags = [...c.tags].sort().join(";");
  return p;
}

/** Keys of `want` whose value the actual config does not have (comparing as PVE normalises them). */
export function configDiff(want: PveParams, actual: PveParams): string[] {
  return Object.keys(want).filter((k) => !sameConfigValue(k, want[k], actual[k]));
}

function sameConfigValue(key: string, want: string | number | undefined, actual: string | number | undefined): boolean {
  if (key === "onboot" || key === "protection") return Number(want ?? 0) === Number(actual ?? 0);
  if (actual === undefined) return false;
  if (key === "tags") return splitTags(String(want)).join(";") === splitTags(String(actual)).join(";");
  if (key === "description") return String(want).trim() === String(actual).trim();
  if (key === "net0" || key === "features") return subsetOf(kv(String(want)), kv(String(actual)));
  if (key === "nameserver") return String(want).split(/\s+/).join(" ") === String(actual).split(/\s+/).join(" ");
  return String(want) === String(actual);
}

const splitTags = (t: string): string[] =>
  t
    .split(/[;, ]+/)
    .filter(Boolean)
    .map((x) => x.toLowerCase())
    .sort();

function kv(s: string): Map<string, string> {
  return new Map(
    s
      .split(",")
      .filter(Boolean)
      .map((part) => {
        const i = part.indexOf("=");
        return i < 0 ? [part, ""] : [part.slice(0, i), part.slice(i + 1)];
      }),
  );
}

function subsetOf(want: Map<string, string>, actual: Map<string, string>): boolean {
  for (const [k, v] of want) {
    const a = actual.get(k);
    if (a === undefined) return false;
    if (a !== v && !(isNum(a) && isNum(v) && Number(a) === Number(v))) return false;
  }
  return true;
}
const isNum = (s: string): boolean => s !== "" && !Number.isNaN(Number(s));

/** Size in GiB of a `rootfs` value such as `local-lvm:vm-2001-disk-0,size=8G`; undefined when absent. */
export function rootfsSizeGiB(rootfs: string | number | undefined): number | undefined {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT])?/.exec(String(rootfs ?? ""));
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "G";
  return unit === "T" ? n * 1024 : unit === "G" ? n : unit === "M" ? n / 1024 : n / (1024 * 1024);
}

/** Whether an existing container was made by proxstack (so it may be adopted after a crash). */
function ours(config: PveParams): boolean {
  return /(^|;)proxstack(;|$)/.test(String(config.tags ?? "")) || String(config.description ?? "").startsWith("Managed by proxstack");
}

/**
 * Creates the container, or adopts a proxstack container already holding the VMID (an interrupted
 * run), then converges it. Never clones twice: the VMID is looked up first.
 */
export async function createContainer(pve: SimProxmox, c: ContainerInputs, opts: { recorded: boolean }): Promise<void> {
  const existing = await waitUnlocked(pve, c.nodeName, c.vmId);
  // A container our state records (or adopted after a crash) is ours even before its tags are written.
  if (existing && !opts.recorded && !ours(existing.config)) {
    throw new ProxstackError("simulation.vmid-taken", `VMID ${c.vmId} on ${c.nodeName} holds a container proxstack did not create; allocate another VMID`, {
      kind: "stall",
    });
  }
  if (!existing) {
    const hostname = c.initialization?.hostname ?? `ct-${c.vmId}`;
    if (c.clone) {
      const sourceNode = c.clone.nodeName ?? c.nodeName;
      await pve.cloneContainer(sourceNode, c.clone.vmId, {
        // The description marks the clone as proxstack's from its first moment (see `ours`).
        newid: c.vmId,
        hostname,
        full: c.clone.full ?? true,
        ...(c.description !== undefined ? { description: c.description } : {}),
        ...(c.clone.datastoreId ? { storage: c.clone.datastoreId } : {}),
        ...(sourceNode !== c.nodeName ? { target: c.nodeName } : {}),
      });
    } else if (c.operatingSystem) {
      const cfg = desiredConfig(c);
      delete cfg.protection;
      const keys = c.initialization?.userAccount?.keys ?? [];
      await pve.createContainer(c.nodeName, {
        vmid: c.vmId,
        ostemplate: c.operatingSystem.templateFileId,
        ...(c.operatingSystem.type ? { ostype: c.operatingSystem.type } : {}),
        unprivileged: bit(c.unprivileged),
        rootfs: `${c.disk?.datastoreId ?? "local-lvm"}:${c.disk?.size ?? 8}`,
        ...cfg,
        ...(keys.length > 0 ? { "ssh-public-keys": keys.join("\n") } : {}),
      });
    } else {
      throw new ProxstackError("simulation.bad-inputs", `container ${c.vmId} names neither a clone source nor an OS template`, { kind: "stall" });
    }
  }
  await convergeContainer(pve, c);
}

const LOCK_WAIT_MS = 60_000;
const LOCK_POLL_MS = 100;

/**
 * The container once Proxmox holds no lock on it (a clone or create still running, for example
 * after the engine restarted mid-clone); a lock that outlives the wait is a retryable error.
 */
async function waitUnlocked(pve: SimProxmox, node: string, vmid: number): Promise<PveContainer | undefined> {
  for (let waited = 0; ; waited += LOCK_POLL_MS) {
    const ct = await pve.getContainer(node, vmid);
    if (ct?.config.lock === undefined) return ct;
    if (waited >= LOCK_WAIT_MS) {
      throw new ProxstackError(
        "simulation.container-locked",
        `container ${vmid} on ${node} is still locked (${String(ct.config.lock)}) after ${LOCK_WAIT_MS / 1000} s; retrying later`,
        { kind: "retry" },
      );
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

/** Updates a container in place: config keys that differ, disk growth, then power. */
export async function convergeContainer(pve: SimProxmox, c: ContainerInputs): Promise<void> {
  const ct = await pve.getContainer(c.nodeName, c.vmId);
  if (!ct)
    throw new ProxstackError(
      "simulation.container-missing",
      `container ${c.vmId} is gone from ${c.nodeName}; a refresh records it as deleted and the next run recreates it`,
      { kind: "retry" },
    );
  const want = desiredConfig(c);
  const changed = configDiff(want, ct.config);
  // Protection goes on last, so it never blocks this run's own resize.
  const protect = changed.includes("protection") ? want.protection : undefined;
  const first = Object.fromEntries(changed.filter((k) => k !== "protection").map((k) => [k, want[k] ?? ""]));
  if (Object.keys(first).length > 0) await pve.updateConfig(c.nodeName, c.vmId, first);
  const size = rootfsSizeGiB(ct.config.rootfs);
  if (c.disk && size !== undefined && c.disk.size > size) await pve.resizeDisk(c.nodeName, c.vmId, "rootfs", `${c.disk.size}G`);
  const running = ct.status === "running";
  const wantRunning = c.started ?? true;
  if (wantRunning && !running) await pve.start(c.nodeName, c.vmId);
  if (!wantRunning && running) await pve.stop(c.nodeName, c.vmId);
  if (protect !== undefined) await pve.updateConfig(c.nodeName, c.vmId, { protection: protect });
}

/** Stops and deletes the container; gone already is fine. */
export async function deleteContainer(pve: SimProxmox, c: ContainerInputs): Promise<void> {
  const ct = await pve.getContainer(c.nodeName, c.vmId);
  if (!ct) return;
  if (Number(ct.config.protection ?? 0) === 1) {
    throw new ProxstackError(
      "simulation.protected",
      `container ${c.vmId} has Proxmox protection set; set protect: false in the stack file and apply before removing it`,
      { kind: "stall" },
    );
  }
  if (ct.status === "running") await pve.stop(c.nodeName, c.vmId);
  await pve.destroy(c.nodeName, c.vmId);
}

/** Why the real container differs from the recorded inputs: `missing`, or the drifted keys. */
export async function containerDrift(pve: SimProxmox, c: ContainerInputs): Promise<"missing" | string[]> {
  const ct = await pve.getContainer(c.nodeName, c.vmId);
  if (!ct) return "missing";
  const drift = configDiff(desiredConfig(c), ct.config);
  if ((ct.status === "running") !== (c.started ?? true)) drift.push("started");
  return drift;
}

function optionsParams(inputs: unknown): { node: string; vmid: number; params: PveParams } {
  const o = parse(FirewallOptionsSchema, inputs, "firewall options");
  const params: PveParams = {
    enable: bit(o.enabled),
    policy_in: o.inputPolicy ?? "DROP",
    policy_out: o.outputPolicy ?? "ACCEPT",
    macfilter: bit(o.macfilter ?? true),
    ipfilter: bit(o.ipfilter),
    dhcp: bit(o.dhcp),
    ndp: bit(o.ndp),
    radv: bit(o.radv),
    log_level_in: o.logLevelIn ?? "nolog",
    log_level_out: o.logLevelOut ?? "nolog",
  };
  return { node: o.nodeName, vmid: o.containerId, params };
}

/** Sets the firewall options that differ; a container that is gone is left to its own step. */
export async function applyFirewallOptions(pve: SimProxmox, inputs: unknown): Promise<void> {
  const { node, vmid, params } = optionsParams(inputs);
  const actual = await pve.getFirewallOptions(node, vmid);
  const changed = Object.keys(params).filter((k) => String(actual[k] ?? "") !== String(params[k]));
  if (changed.length > 0) await pve.setFirewallOptions(node, vmid, Object.fromEntries(changed.map((k) => [k, params[k] ?? ""])));
}

export async function firewallOptionsDrift(pve: SimProxmox, inputs: unknown): Promise<string[]> {
  const { node, vmid, params } = optionsParams(inputs);
  const actual = await pve.getFirewallOptions(node, vmid);
  return Object.keys(params).filter((k) => String(actual[k] ?? "") !== String(params[k]));
}

/** Turns the firewall off (the container stays). */
export async function deleteFirewallOptions(pve: SimProxmox, inputs: unknown): Promise<void> {
  const { node, vmid } = optionsParams(inputs);
  if (await pve.getContainer(node, vmid)) await pve.setFirewallOptions(node, vmid, { enable: 0 });
}

function ruleParams(inputs: unknown): { node: string; vmid: number; rules: PveParams[] } {
  const r = parse(FirewallRulesSchema, inputs, "firewall rules");
  const rules = r.rules.map((x) => {
    const p: PveParams = { type: x.type, action: x.action, enable: x.enabled === false ? 0 : 1 };
    for (const k of ["source", "dest", "iface", "proto", "dport", "sport", "macro", "comment"] as const) {
      const v = x[k];
      if (v !== undefined) p[k] = v;
    }
    return p;
  });
  return { node: r.nodeName, vmid: r.containerId, rules };
}

const RULE_KEYS = ["type", "action", "enable", "source", "dest", "iface", "proto", "dport", "sport", "macro", "comment"] as const;
const sameRule = (a: PveParams, b: PveParams): boolean => RULE_KEYS.every((k) => String(a[k] ?? "") === String(b[k] ?? ""));

/** Replaces the container's rule set when it differs from the declared one (the resource owns the whole list). */
export async function applyFirewallRules(pve: SimProxmox, inputs: unknown): Promise<void> {
  const { node, vmid, rules } = ruleParams(inputs);
  const actual = await pve.getFirewallRules(node, vmid);
  if (actual.length === rules.length && rules.every((r, i) => sameRule(r, actual[i] ?? {}))) return;
  for (let pos = actual.length - 1; pos >= 0; pos--) await pve.deleteFirewallRule(node, vmid, pos);
  for (const [pos, rule] of rules.entries()) await pve.addFirewallRule(node, vmid, rule, pos);
}

export async function firewallRulesDrift(pve: SimProxmox, inputs: unknown): Promise<string[]> {
  const { node, vmid, rules } = ruleParams(inputs);
  const actual = await pve.getFirewallRules(node, vmid);
  return actual.length === rules.length && rules.every((r, i) => sameRule(r, actual[i] ?? {})) ? [] : ["rules"];
}

export async function deleteFirewallRules(pve: SimProxmox, inputs: unknown): Promise<void> {
  const { node, vmid } = ruleParams(inputs);
  if (!(await pve.getContainer(node, vmid))) return;
  const actual = await pve.getFirewallRules(node, vmid);
  for (let pos = actual.length - 1; pos >= 0; pos--) await pve.deleteFirewallRule(node, vmid, pos);
}

/** The target container of a firewall resource. */
export function firewallTarget(inputs: unknown): { node: string; vmid: number } {
  const t = parse(FirewallTargetSchema, inputs, "firewall");
  return { node: t.nodeName, vmid: t.containerId };
}
