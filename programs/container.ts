// The Proxmox container of one instance as plain provider arguments: the single source for the program and the replacement check.
import type * as proxmox from "@muhlba91/pulumi-proxmoxve";
import { ProxstackError } from "../lib/errors.js";
import type { Instance, Plan, PlatformSpec, TemplateSource, UserStackSpec } from "../schemas/index.js";
import { inCidr, prefixLength } from "./ipv4.js";
import { assertLabelLength, containerDescription, containerTags, hostname } from "./naming.js";

/** An instance whose VMID and IP the engine has allocated (the programs never allocate). */
export interface Allocation {
  vmid: number;
  ip: string;
}

/**
 * `ContainerLegacy` arguments with plain values. Every field here is checked against the installed
 * provider typings (`satisfies proxmox.ContainerLegacyArgs` in {@link containerArgs}).
 *
 * Which of these force Proxmox to REPLACE the container (destroy and recreate, losing its disk), per the
 * bpg provider schema (see ../shared/notes/pulumi.md §3.3): `nodeName`, `vmId`, every `clone` field,
 * `operatingSystem`, `disk.datastoreId`, a smaller `disk.size`, `unprivileged`, `initialization.userAccount`
 * (ignored after creation here, see user-stack.ts). Everything else is updated in place: `started`,
 * `cpu.cores`, `memory` (reboots a running container), `disk.size` growth (online), `tags`,
 * `description`, `protection`, `networkInterfaces` (reboots), `initialization.hostname|ipConfigs|dns` (reboot).
 */
export interface ContainerArgs {
  nodeName: string;
  vmId: number;
  clone?: { vmId: number; nodeName?: string; datastoreId: string; full: boolean };
  operatingSystem?: { templateFileId: string; type: string };
  unprivileged: boolean;
  features: { nesting: boolean };
  cpu: { cores: number };
  memory: { dedicated: number; swap: number };
  disk: { datastoreId: string; size: number };
  networkInterfaces: { name: string; bridge: string; firewall: boolean; rateLimit?: number }[];
  initialization: {
    hostname: string;
    ipConfigs: { ipv4: { address: string; gateway: string } }[];
    dns?: { servers: string[] };
    userAccount?: { keys: string[] };
  };
  started: boolean;
  startOnBoot: boolean;
  protection: boolean;
  tags: string[];
  description: string;
}

/** The VMID and IP of an instance, or a stall error naming it: the engine must allocate both before a run. */
export function requireAllocation(user: string, instance: Instance, platform: PlatformSpec): Allocation {
  if (instance.vmid === undefined || instance.ip === undefined) {
    const missing = [instance.vmid === undefined ? "vmid" : undefined, instance.ip === undefined ? "ip" : undefined].filter(Boolean).join(" and ");
    throw new ProxstackError(
      "allocation-missing",
      `instance ${user}/${instance.name} has no ${missing} yet: the engine allocates them and writes them to stacks/${user}.yaml before any run`,
      { kind: "stall" },
    );
  }
  if (!inCidr(instance.ip, platform.network.pool)) {
    throw new ProxstackError("ip-outside-pool", `instance ${user}/${instance.name} has ip ${instance.ip}, outside the platform pool ${platform.network.pool}`, {
      kind: "stall",
    });
  }
  return { vmid: instance.vmid, ip: instance.ip };
}

/** The catalog entries an instance names, or a stall error naming the unknown one. */
export function catalogEntries(user: string, instance: Instance, platform: PlatformSpec): { template: TemplateSource; plan: Plan } {
  const template = platform.templates[instance.template];
  const plan = platform.plans[instance.plan];
  if (template === undefined) {
    throw new ProxstackError(
      "unknown-template",
      `instance ${user}/${instance.name} uses template "${instance.template}", which stacks/platform.yaml does not list (known: ${Object.keys(platform.templates).join(", ")})`,
      { kind: "stall" },
    );
  }
  if (plan === undefined) {
    throw new ProxstackError(
      "unknown-plan",
      `instance ${user}/${instance.name} uses plan "${instance.plan}", which stacks/platform.yaml does not list (known: ${Object.keys(platform.plans).join(", ")})`,
      { kind: "stall" },
    );
  }
  // A clone starts with the template's disk and a disk cannot shrink: the provider would plan a
  // replacement on every run (which the plan guard refuses), so the pair is refused up front.
  if ("clone" in template && template.clone.diskGiB !== undefined && template.clone.diskGiB > plan.diskGiB) {
    throw new ProxstackError(
      "template-disk-too-big",
      `instance ${user}/${instance.name}: template "${instance.template}" has a ${template.clone.diskGiB} GiB disk, more than plan "${instance.plan}" (${plan.diskGiB} GiB); a clone cannot shrink: choose a bigger plan or a smaller template`,
      { kind: "stall" },
    );
  }
  return { template, plan };
}

/** The power the program requests: a suspension stops every container whatever `power` says. */
export function requestedPower(spec: UserStackSpec, instance: Instance): "running" | "stopped" {
  return spec.suspension !== undefined ? "stopped" : instance.power;
}

/** Proxmox node a stack's containers live on: the platform's first node. */
export function containerNode(platform: PlatformSpec): string {
  const node = platform.proxmox.nodes[0];
  if (node === undefined) throw new ProxstackError("no-node", "stacks/platform.yaml lists no Proxmox node", { kind: "stall" });
  return node;
}

/**
 * Container arguments of one instance.
 *
 * The provisioning key goes in only for containers created from an OS template: Proxmox accepts
 * `ssh-public-keys` on create, not when configuring a clone, so cloned templates must already trust it.
 */
export function containerArgs(spec: UserStackSpec, instance: Instance, platform: PlatformSpec, provisioningPublicKey: string): ContainerArgs {
  const user = spec.name;
  const { vmid, ip } = requireAllocation(user, instance, platform);
  const { template, plan } = catalogEntries(user, instance, platform);
  const node = containerNode(platform);
  const datastore = platform.proxmox.datastore;
  const name = hostname(user, instance.name);
  assertLabelLength(name, "container hostname");
  const prefix = prefixLength(platform.network.pool);
  const source =
    "clone" in template
      ? {
          clone: {
            vmId: template.clone.vmid,
            ...(template.clone.node !== undefined && template.clone.node !== node ? { nodeName: template.clone.node } : {}),
            datastoreId: datastore,
            full: true,
          },
        }
      : { operatingSystem: { templateFileId: template.osTemplate, type: template.osType } };
  const args = {
    nodeName: node,
    vmId: vmid,
    ...source,
    // Clones must match the template's value or every run plans a replacement; templates are unprivileged.
    unprivileged: true,
    features: { nesting: true },
    cpu: { cores: plan.cores },
    memory: { dedicated: plan.memoryMiB, swap: plan.swapMiB },
    disk: { datastoreId: datastore, size: plan.diskGiB },
    networkInterfaces: [
      {
        name: "eth0",
        bridge: platform.proxmox.bridge,
        firewall: true,
        ...(instance.rateLimitMBps !== undefined ? { rateLimit: instance.rateLimitMBps } : {}),
      },
    ],
    initialization: {
      hostname: name,
      ipConfigs: [{ ipv4: { address: `${ip}/${prefix ?? 32}`, gateway: platform.network.gateway } }],
      ...(platform.network.nameservers.length > 0 ? { dns: { servers: [...platform.network.nameservers] } } : {}),
      ...("clone" in template ? {} : { userAccount: { keys: [provisioningPublicKey.trim()] } }),
    },
    started: requestedPower(spec, instance) === "running",
    // Constant on purpose: following `power` would make a power flip touch two arguments. A stopped
    // container that Proxmox boots with its host is stopped again by the engine's refreshing resync.
    startOnBoot: true,
    protection: instance.protect,
    tags: containerTags(user, instance.name),
    description: containerDescription(user, instance.name),
  } satisfies proxmox.ContainerLegacyArgs & ContainerArgs;
  return args;
}
