// Which stack-file changes would make Pulumi destroy a container (replace or delete it): for the plan step and the engine's guard.
import { isDeepStrictEqual } from "node:util";
import { ProxstackError } from "../lib/errors.js";
import type { Instance, PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { containerArgs, type ContainerArgs } from "./container.js";

/**
 * A change that destroys a container's disk.
 * - `replace`: Pulumi deletes the container and creates a new one (same instance, empty disk).
 * - `destroy`: the container goes away (instance removed, or renamed: a new logical name is a new resource).
 */
export interface ReplacementRisk {
  /** Instance name in the new file (the old name for a removed instance). */
  instance: string;
  /** Spec field whose change causes it, e.g. `vmid`, `template`, `plan`, `platform.proxmox.datastore`. */
  field: string;
  /** Provider argument that forces it, e.g. `vmId`, `clone`, `disk.size`; `urn` for renames and removals. */
  argument: string;
  kind: "replace" | "destroy";
  /** A sentence for the person who made the change. */
  reason: string;
}

/**
 * Lists the changes between two versions of a user's stack (and of the platform file) that would destroy
 * a container. Pure; never throws (an unresolvable instance is the validator's business and is skipped).
 *
 * Force replacement (provider ForceNew, see ../shared/notes/pulumi.md §3.3):
 * - `vmid` changed or removed (a new VMID is a new container);
 * - `template` changed, or the catalog entry it names changed its clone VMID/node or OS template;
 * - `plan` changed to one with a smaller disk, or the plan's `diskGiB` shrank (disks only grow in place);
 * - platform `proxmox.datastore` or the first of `proxmox.nodes` changed (disk storage, node);
 * - `unprivileged` (always true here, so it cannot change from a file).
 * Destroy: removing an instance; renaming one (its logical name, hence its URN, changes).
 *
 * Do NOT replace (updated in place): `power` and suspension (start/stop), plan cores and memory (memory
 * reboots a running container), a bigger disk, `protect`, `rateLimitMBps` (reboot), `ip` (reboot),
 * `domains` (platform stack; a new port adds a firewall rule), `snapshots`, `sshKeys` (SSH hook, not
 * Proxmox), the provisioning key (ignored after creation).
 */
export function replacementRisks(
  before: UserStackSpec,
  after: UserStackSpec,
  platform: PlatformSpec,
  platformBefore: PlatformSpec = platform,
): ReplacementRisk[] {
  const risks: ReplacementRisk[] = [];
  const afterByName = new Map(after.instances.map((i) => [i.name, i]));
  for (const old of before.instances) {
    const next = afterByName.get(old.name);
    if (next === undefined) risks.push(goneRisk(old, after));
    else risks.push(...instanceRisks(before, old, platformBefore, after, next, platform));
  }
  return risks;
}

function goneRisk(old: Instance, after: UserStackSpec): ReplacementRisk {
  const renamedTo = old.vmid === undefined ? undefined : after.instances.find((i) => i.vmid === old.vmid && i.name !== old.name);
  if (renamedTo !== undefined) {
    return {
      instance: renamedTo.name,
      field: "name",
      argument: "urn",
      kind: "destroy",
      reason: `renaming ${old.name} to ${renamedTo.name} gives the container a new Pulumi name: Pulumi would try to create a second container with VMID ${old.vmid} and delete the old one; keep the old name`,
    };
  }
  return {
    instance: old.name,
    field: "instances",
    argument: "urn",
    kind: "destroy",
    reason: `removing instance ${old.name} destroys its container${old.vmid === undefined ? "" : ` (VMID ${old.vmid})`} and its disk`,
  };
}

function instanceRisks(
  beforeSpec: UserStackSpec,
  old: Instance,
  platformBefore: PlatformSpec,
  afterSpec: UserStackSpec,
  next: Instance,
  platform: PlatformSpec,
): ReplacementRisk[] {
  // A container that was never allocated was never created: nothing to lose.
  if (old.vmid === undefined || old.ip === undefined) return [];
  const a = argsOrUndefined(beforeSpec, old, platformBefore);
  if (a === undefined) return [];
  const risk = (field: string, argument: string, reason: string): ReplacementRisk => ({ instance: next.name, field, argument, kind: "replace", reason });
  if (next.vmid === undefined) {
    return [risk("vmid", "vmId", `removing vmid ${old.vmid} from ${next.name} makes the engine allocate a new one, which replaces the container`)];
  }
  const b = argsOrUndefined(afterSpec, { ...next, ip: next.ip ?? old.ip }, platform);
  if (b === undefined) return [];
  const risks: ReplacementRisk[] = [];
  if (a.vmId !== b.vmId) {
    risks.push(risk("vmid", "vmId", `changing vmid ${a.vmId} → ${b.vmId} destroys container ${next.name} and creates a new one with an empty disk`));
  }
  if (a.nodeName !== b.nodeName) {
    risks.push(risk("platform.proxmox.nodes", "nodeName", `moving containers from node ${a.nodeName} to ${b.nodeName} recreates them`));
  }
  // The clone's datastore follows the platform datastore, reported below on its own.
  const source = (x: ContainerArgs) => ({ clone: x.clone && { ...x.clone, datastoreId: undefined }, os: x.operatingSystem });
  if (!isDeepStrictEqual(source(a), source(b))) {
    const field = old.template !== next.template ? "template" : `platform.templates.${next.template}`;
    risks.push(
      risk(
        field,
        a.clone || b.clone ? "clone" : "operatingSystem",
        old.template !== next.template
          ? `changing template ${old.template} → ${next.template} reinstalls ${next.name}: its disk is destroyed`
          : `the catalog entry of template ${next.template} changed source, which reinstalls ${next.name}`,
      ),
    );
  }
  if (a.disk.datastoreId !== b.disk.datastoreId) {
    risks.push(
      risk("platform.proxmox.datastore", "disk.datastoreId", `moving root disks from ${a.disk.datastoreId} to ${b.disk.datastoreId} recreates ${next.name}`),
    );
  }
  if (b.disk.size < a.disk.size) {
    const field = old.plan !== next.plan ? "plan" : `platform.plans.${next.plan}.diskGiB`;
    risks.push(
      risk(field, "disk.size", `shrinking the disk of ${next.name} from ${a.disk.size} to ${b.disk.size} GiB recreates it (disks only grow in place)`),
    );
  }
  if (a.unprivileged !== b.unprivileged) {
    risks.push(risk("unprivileged", "unprivileged", `switching ${next.name} between privileged and unprivileged recreates it`));
  }
  return risks;
}

function argsOrUndefined(spec: UserStackSpec, instance: Instance, platform: PlatformSpec): ContainerArgs | undefined {
  try {
    return containerArgs(spec, instance, platform, "");
  } catch (e) {
    if (e instanceof ProxstackError) return undefined;
    throw e;
  }
}
