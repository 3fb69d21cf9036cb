// The user's WireGuard peer address for the container firewall: read from the VPN service, created there on first need.
import type { UserStackSpec } from "../schemas/index.js";
import type { VpnClient } from "./client.js";

/**
 * Returns the addresses the user's containers accept VPN traffic from. The peer is created before
 * the first apply (targets: the spec's allocated IPs), so the firewall and the peer agree from the
 * start instead of needing a second apply after the vpn-peer hook; the hook keeps targets exact.
 */
export function createVpnPeerAddresses(vpn: VpnClient): (spec: UserStackSpec) => Promise<string[]> {
  return async (spec) => {
    const existing = await vpn.getPeer(spec.name);
    if (existing) return [existing.address.replace(/\/32$/, "")];
    const targets = spec.instances.flatMap((i) => (i.ip ? [i.ip] : []));
    if (targets.length === 0) return [];
    const created = await vpn.putPeer(spec.name, { targets });
    return [created.address.replace(/\/32$/, "")];
  };
}
