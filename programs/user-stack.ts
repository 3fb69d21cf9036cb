// The user-stack program: one Proxmox container plus its firewall per instance of a user's stack file.
import * as pulumi from "@pulumi/pulumi";
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import { ProxstackError } from "../lib/errors.js";
import type { Instance, PlatformSpec, UserStackOutputs, UserStackSpec } from "../schemas/index.js";
import { containerArgs, requestedPower, requireAllocation, type Allocation, type ContainerArgs } from "./container.js";
import { FIREWALL_OPTIONS, firewallRules, type FirewallRule } from "./firewall.js";
import { INSTANCE_COMPONENT_TYPE, hostname, logicalName } from "./naming.js";
import { createProxmoxProvider, type ProxmoxProviderSettings } from "./providers.js";

export interface UserStackProgramInput {
  /** The validated user stack file; every instance must carry its allocated vmid and ip. */
  spec: UserStackSpec;
  /** The validated platform file. */
  platform: PlatformSpec;
  proxmox: ProxmoxProviderSettings;
  /** OpenSSH public key of the platform's provisioning key (`<data dir>/keys/provisioning_ed25519.pub`). */
  provisioningPublicKey: string;
  /**
   * This user's WireGuard peer addresses, fed by the VPN hook (engine) or the `proxstack:vpnPeerAddresses`
   * config (CLI). Each must lie in the platform's VPN subnet. @default [] (no VPN access yet)
   */
  vpnPeerAddresses?: string[];
}

/** Everything one instance declares, computed before any resource registers. */
interface InstanceDesign {
  instance: Instance;
  allocation: Allocation;
  container: ContainerArgs;
  rules: FirewallRule[];
}

/**
 * Declares the user's containers and firewalls and returns the stack outputs.
 * Everything is computed and checked first, so a bad spec throws before a single resource registers.
 */
export async function userStackProgram(input: UserStackProgramInput): Promise<UserStackOutputs> {
  const designs = designInstances(input);
  const provider = createProxmoxProvider(input.proxmox);
  for (const d of designs) new InstanceResources(input.spec.name, d, provider);
  return Promise.resolve(outputsOf(input.spec, designs, input.vpnPeerAddresses ?? []));
}

function designInstances(input: UserStackProgramInput): InstanceDesign[] {
  const { spec, platform } = input;
  checkUnique(spec);
  return spec.instances.map((instance) => ({
    instance,
    allocation: requireAllocation(spec.name, instance, platform),
    container: containerArgs(spec, instance, platform, input.provisioningPublicKey),
    rules: firewallRules(spec.name, instance, platform, input.vpnPeerAddresses ?? []),
  }));
}

function checkUnique(spec: UserStackSpec): void {
  const names = new Set<string>();
  const vmids = new Set<number>();
  for (const i of spec.instances) {
    if (names.has(i.name)) throw new ProxstackError("duplicate-instance", `stacks/${spec.name}.yaml declares instance "${i.name}" twice`, { kind: "stall" });
    if (i.vmid !== undefined && vmids.has(i.vmid))
      throw new ProxstackError("duplicate-vmid", `stacks/${spec.name}.yaml uses vmid ${i.vmid} twice`, { kind: "stall" });
    names.add(i.name);
    if (i.vmid !== undefined) vmids.add(i.vmid);
  }
}

// The peer addresses come from outside the file; recording them lets a later plan reuse them instead of guessing.
function outputsOf(spec: UserStackSpec, designs: InstanceDesign[], vpnPeerAddresses: readonly string[]): UserStackOutputs {
  return {
    stack: spec.name,
    suspended: spec.suspension !== undefined,
    instances: designs.map(({ instance, allocation, container }) => ({
      name: instance.name,
      vmid: container.vmId,
      ip: allocation.ip,
      hostname: hostname(spec.name, instance.name),
      power: requestedPower(spec, instance),
    })),
    vpnPeerAddresses: [...new Set(vpnPeerAddresses)].sort(),
  };
}

/** One instance's resources under a component, so URNs read `alice/web/container`. */
class InstanceResources extends pulumi.ComponentResource {
  constructor(user: string, design: InstanceDesign, provider: proxmox.Provider) {
    const name = design.instance.name;
    super(INSTANCE_COMPONENT_TYPE, logicalName.instance(user, name), {}, {});
    const container = createContainer(this, user, design, provider);
    createFirewall(this, user, design, provider, container);
    this.registerOutputs({});
  }
}

function createContainer(parent: pulumi.Resource, user: string, design: InstanceDesign, provider: proxmox.Provider): proxmox.ContainerLegacy {
  return new proxmox.ContainerLegacy(logicalName.container(user, design.instance.name), design.container, {
    parent,
    provider,
    // The VMID is fixed, so a replacement must delete first or the create would collide with it.
    deleteBeforeReplace: true,
    protect: design.instance.protect,
    // The provisioning key only matters at creation; rotating it must never replace containers
    // (userAccount forces replacement). The SSH hook distributes a rotated key.
    ignoreChanges: ["initialization.userAccount"],
  });
}

function createFirewall(parent: pulumi.Resource, user: string, design: InstanceDesign, provider: proxmox.Provider, container: proxmox.ContainerLegacy): void {
  const name = design.instance.name;
  // Proxmox drops a container's firewall with the container, so these follow its replacement, and are
  // deleted before being recreated: deleting after the create would reset what was just written.
  const opts: pulumi.CustomResourceOptions = { parent, provider, replaceWith: [container], deleteBeforeReplace: true };
  new proxmox.firewall.OptionsLegacy(
    logicalName.firewallOptions(user, name),
    {
      nodeName: design.container.nodeName,
      containerId: container.vmId,
      ...FIREWALL_OPTIONS,
    },
    opts,
  );
  new proxmox.firewall.RulesLegacy(
    logicalName.firewallRules(user, name),
    {
      nodeName: design.container.nodeName,
      containerId: container.vmId,
      rules: design.rules,
    },
    opts,
  );
}
