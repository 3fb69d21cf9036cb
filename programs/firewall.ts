// The Proxmox firewall of one container: options (default DROP in) and the rules that isolate users from one another.
import type * as proxmox from "@muhlba91/pulumi-proxmoxve";
import { ProxstackError } from "../lib/errors.js";
import type { Instance, PlatformSpec } from "../schemas/index.js";
import { inCidr, ipv4ToInt } from "./ipv4.js";
import { ruleComment } from "./naming.js";

/** One rule as the provider takes it, with plain values. */
export interface FirewallRule {
  type: "in";
  action: "ACCEPT";
  /** A single host address; never a network, so no rule can reach past its one intended peer. */
  source: string;
  iface: "net0";
  proto?: "tcp";
  dport?: string;
  comment: string;
}

/**
 * Options of every container firewall: on, inbound DROP unless a rule allows, outbound ACCEPT.
 * `ipfilter` pins the container to its configured address, so a user cannot spoof another's.
 */
export const FIREWALL_OPTIONS = {
  enabled: true,
  inputPolicy: "DROP",
  outputPolicy: "ACCEPT",
  macfilter: true,
  ipfilter: true,
  dhcp: false,
  ndp: false,
  radv: false,
  logLevelIn: "nolog",
  logLevelOut: "nolog",
} as const satisfies Omit<proxmox.firewall.OptionsLegacyArgs, "nodeName">;

/** Throws a stall error unless every VPN peer address is a plain address inside the platform's VPN subnet. */
export function checkVpnPeerAddresses(user: string, addresses: readonly string[], platform: PlatformSpec): void {
  for (const a of addresses) {
    if (ipv4ToInt(a) === undefined || !inCidr(a, platform.vpn.subnet)) {
      throw new ProxstackError(
        "vpn-peer-outside-subnet",
        `VPN peer address "${a}" of ${user} is not an IPv4 address inside the VPN subnet ${platform.vpn.subnet}`,
        { kind: "stall" },
      );
    }
  }
}

/**
 * Inbound allowances of one container, in a fixed order:
 * 1. every protocol from each VPN peer address of this user (and only this user: the VPN service hands
 *    each user their own addresses and the engine passes only those);
 * 2. TCP from the tunnel connector to the ports the instance's domains declare;
 * 3. TCP 22 from the engine host (SSH hardening and the web terminal).
 */
export function firewallRules(user: string, instance: Instance, platform: PlatformSpec, vpnPeerAddresses: readonly string[]): FirewallRule[] {
  checkVpnPeerAddresses(user, vpnPeerAddresses, platform);
  const rules: FirewallRule[] = [...new Set(vpnPeerAddresses)].sort(byAddress).map((a) => ({
    type: "in",
    action: "ACCEPT",
    source: a,
    iface: "net0",
    comment: ruleComment.vpnPeer(user),
  }));
  const ports = [...new Set(instance.domains.map((d) => d.port))].sort((a, b) => a - b);
  for (const port of ports) {
    rules.push({
      type: "in",
      action: "ACCEPT",
      source: platform.network.tunnelConnector,
      iface: "net0",
      proto: "tcp",
      dport: String(port),
      comment: ruleComment.tunnel(port),
    });
  }
  rules.push({
    type: "in",
    action: "ACCEPT",
    source: platform.network.engineHost,
    iface: "net0",
    proto: "tcp",
    dport: "22",
    comment: ruleComment.engineSsh(),
  });
  return rules satisfies proxmox.types.input.firewall.RulesLegacyRule[];
}

function byAddress(a: string, b: string): number {
  return (ipv4ToInt(a) ?? 0) - (ipv4ToInt(b) ?? 0);
}
