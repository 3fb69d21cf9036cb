// Isolation on the server with nftables: each peer address may reach only its owner's containers; one atomic rewrite.
import type { Logger } from "../lib/logger.js";
import type { CommandRunner } from "./command-runner.js";
import { ProxstackError } from "../lib/errors.js";

export interface FirewallPeer {
  /** Client address without prefix. */
  address: string;
  /** Container addresses this peer may reach. */
  targets: readonly string[];
}

export interface Firewall {
  /** Replaces the whole ruleset of the VPN table with one for exactly `peers`, atomically. */
  apply(peers: readonly FirewallPeer[]): Promise<void>;
  /** Deletes the VPN table. */
  remove(): Promise<void>;
}

export interface RulesetOptions {
  /** nftables table (family inet). @default proxstack_vpn */
  table: string;
  /** The WireGuard interface peers arrive on. */
  iface: string;
  /** The server's address in the VPN subnet (peers may ping it and ask it for DNS). */
  serverAddress: string;
  /** TCP/UDP ports peers may open on their containers (plus ping); every port when absent or empty. */
  allowedPorts?: readonly number[];
}

export const TABLE_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,31}$/;

/**
 * The table as one `nft -f` transaction: create-if-absent, delete, define. Pairs (peer, container)
 * live in one concatenated set, so a lookup costs the same with 5 peers or 5,000.
 */
export function renderRuleset(o: RulesetOptions, peers: readonly FirewallPeer[]): string {
  const pairs: string[] = [];
  for (const p of peers) for (const t of p.targets) pairs.push(`${p.address} . ${t}`);
  const ports = o.allowedPorts && o.allowedPorts.length > 0 ? [...new Set(o.allowedPorts)].sort((a, b) => a - b) : undefined;
  const ifname = JSON.stringify(o.iface);
  const lines = [`table inet ${o.table}`, `delete table inet ${o.table}`, `table inet ${o.table} {`, `  set peer_targets {`, `    type ipv4_addr . ipv4_addr`];
  if (pairs.length > 0) lines.push(`    elements = {\n      ${pairs.join(",\n      ")}\n    }`);
  lines.push(`  }`);
  if (ports) lines.push(`  set ports {`, `    type inet_service`, `    elements = { ${ports.join(", ")} }`, `  }`);
  lines.push(
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    ports
      ? `    iifname ${ifname} ip saddr . ip daddr @peer_targets meta l4proto { tcp, udp } th dport @ports accept\n    iifname ${ifname} ip saddr . ip daddr @peer_targets icmp type echo-request accept`
      : `    iifname ${ifname} ip saddr . ip daddr @peer_targets accept`,
    `    iifname ${ifname} counter reject with icmpx admin-prohibited`,
    `    oifname ${ifname} ct state established,related accept`,
    `    oifname ${ifname} counter reject with icmpx admin-prohibited`,
    `  }`,
    `  chain input {`,
    `    type filter hook input priority filter; policy accept;`,
    `    iifname ${ifname} ct state established,related accept`,
    `    iifname ${ifname} ip daddr ${o.serverAddress} icmp type echo-request accept`,
    `    iifname ${ifname} ip daddr ${o.serverAddress} meta l4proto { tcp, udp } th dport 53 accept`,
    `    iifname ${ifname} counter reject with icmpx admin-prohibited`,
    `  }`,
    `}`,
    ``,
  );
  return lines.join("\n");
}

export interface NftFirewallOptions extends Omit<RulesetOptions, "table"> {
  runner: CommandRunner;
  /** @default proxstack_vpn */
  table?: string;
  log: Logger;
}

export function createNftFirewall(o: NftFirewallOptions): Firewall {
  const table = o.table ?? "proxstack_vpn";
  if (!TABLE_NAME.test(table))
    throw new ProxstackError("nft-table-invalid", `nftables table name '${table}' must be a letter then letters, digits or '_'`, { kind: "stall" });
  const opts: RulesetOptions = { ...o, table };
  return {
    async apply(peers) {
      await o.runner.run("nft", ["-f", "-"], { input: renderRuleset(opts, peers) });
    },
    async remove() {
      await o.runner.run("nft", ["delete", "table", "inet", table]).catch(() => undefined);
    },
  };
}
