// Benchmark: the VPN service with 5,000 peers (restart apply, adding one) against per-peer `wg set` and rules without sets.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { intToIpv4 } from "../schemas/common.js";
import { silentLogger } from "../lib/logger.js";
import { createVpnClient } from "../vpn/client.js";
import { generateKeyPair } from "../vpn/keys.js";
import { canRunVpnLab, createVpnLab } from "../vpn/testing/netns-lab.js";
import { openPeerStore, type PeerRecord } from "../vpn/peer-store.js";
import { startVpnService } from "../vpn/server.js";
import type { Bench, BenchFigure } from "./bench.js";

const PEERS = 5_000;
const TOKEN = "bench-token-0123456789abcdef";
const SUBNET = "10.99.0.0/18";
const SUBNET_BASE = (10 << 24) + (99 << 16);
const POOL_BASE = (10 << 24) + (10 << 16);

/** Peer i: address 10.99.x.y, two containers in 10.10.0.0/16. */
function records(): PeerRecord[] {
  const now = new Date(0).toISOString();
  return Array.from({ length: PEERS }, (_, i) => ({
    owner: `u${String(i).padStart(5, "0")}`,
    address: intToIpv4(SUBNET_BASE + 2 + i),
    publicKey: generateKeyPair().publicKey,
    targets: [intToIpv4(POOL_BASE + 20 + 2 * i), intToIpv4(POOL_BASE + 21 + 2 * i)],
    createdAt: now,
    updatedAt: now,
  }));
}

/** The same isolation written the naive way: one rule per (peer, container) pair, no sets. */
function rulesWithoutSets(iface: string, peers: readonly PeerRecord[]): string {
  const rules = peers.flatMap((p) => p.targets.map((t) => `    iifname "${iface}" ip saddr ${p.address} ip daddr ${t} accept`));
  return [
    "table inet bench_noset",
    "delete table inet bench_noset",
    "table inet bench_noset {",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    ...rules,
    `    iifname "${iface}" reject with icmpx admin-prohibited`,
    "  }",
    "}",
    "",
  ].join("\n");
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

export const bench: Bench = {
  title: "VPN service: 5,000 peers",
  description:
    `The VPN service (vpn/) with ${PEERS.toLocaleString("en-US")} peers of two containers each, its WireGuard device (wireguard-go) and nftables table inside a network namespace. ` +
    "Restart: the service starts over an empty device and ruleset and applies every stored peer (one `wg syncconf`, one `nft -f` with a concatenated set). " +
    "Baselines in the same run: the same peers applied with one `wg set` per peer, and the same isolation as one nftables rule per pair without sets. " +
    "Add one: `PUT /peers/:owner` with 5,000 present (full atomic rewrite of peers and rules) against the incremental `wg set` + `nft add element` it replaces. Needs root; skipped otherwise.",
  async run(): Promise<BenchFigure[]> {
    const can = await canRunVpnLab();
    if (!can.ok) throw new Error(`SKIPPED: needs root, network namespaces, wireguard-go and nftables (${can.why})`);
    const lab = await createVpnLab({ clients: 0, containerIps: [] });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pxs-vpn-bench-"));
    const iface = `pxv${lab.id}s`;
    const S = lab.server.name;
    try {
      const peers = records();
      const store = openPeerStore(path.join(dataDir, "vpn.db"));
      store.upsertMany(peers);
      store.close();
      const opts = { dataDir, token: TOKEN, netns: S, iface, subnet: SUBNET, endpoint: "192.168.250.1:51820", pool: "10.10.0.0/16", log: silentLogger() };

      // Warm-up start (creates the key, page cache), then the measured restart from nothing.
      await (await startVpnService(opts)).close({ teardown: true });
      const [restartMs, server] = await time(() => startVpnService(opts));
      const shown = (await lab.exec(S, "wg", ["show", iface, "peers"])).stdout.trim().split("\n").length;
      if (shown !== PEERS) throw new Error(`device shows ${shown} peers after the restart, expected ${PEERS}`);

      const [syncMs] = await time(() => server.device.sync(peers));
      const [nftMs] = await time(() => server.firewall.apply(peers));

      const vpn = createVpnClient({ url: server.url, token: TOKEN });
      const extra = generateKeyPair().publicKey;
      const [addMs] = await time(() => vpn.putPeer("newcomer", { targets: ["10.10.200.1"], publicKey: extra }));

      // Baselines on the same device: drop every peer, then re-add them one `wg set` at a time.
      const script = path.join(dataDir, "wg-set-each.sh");
      fs.writeFileSync(script, peers.map((p) => `wg set ${iface} peer ${p.publicKey} allowed-ips ${p.address}/32`).join("\n") + "\n");
      await server.device.sync([]);
      const [wgEachMs] = await time(() => lab.exec(S, "sh", [script], { timeoutMs: 600_000 }));
      const [nftNoSetMs] = await time(() => lab.exec(S, "nft", ["-f", "-"], { input: rulesWithoutSets(iface, peers), timeoutMs: 600_000 }));
      await lab.exec(S, "nft", ["delete", "table", "inet", "bench_noset"]);
      await server.service.restore();
      const one = generateKeyPair().publicKey;
      const [incMs] = await time(async () => {
        await lab.exec(S, "wg", ["set", iface, "peer", one, "allowed-ips", "10.99.63.250/32"]);
        await lab.exec(S, "nft", ["add", "element", "inet", "proxstack_vpn", "peer_targets", "{ 10.99.63.250 . 10.10.200.2 }"]);
      });
      await server.close({ teardown: true });

      return [
        {
          name: `restart: start the service and apply ${PEERS.toLocaleString("en-US")} peers (device, rules, HTTP)`,
          value: restartMs,
          unit: "ms",
          baseline: { name: "one `wg set` per peer + one rule per pair", value: wgEachMs + nftNoSetMs },
          goal: "< 5000 ms",
          met: restartMs < 5000,
        },
        {
          name: `wg syncconf with ${PEERS.toLocaleString("en-US")} peers`,
          value: syncMs,
          unit: "ms",
          baseline: { name: "one `wg set` per peer", value: wgEachMs },
        },
        {
          name: `nft -f: table with ${(PEERS * 2).toLocaleString("en-US")} pairs in a set`,
          value: nftMs,
          unit: "ms",
          baseline: { name: "one rule per pair, no set", value: nftNoSetMs },
        },
        {
          name: `add one peer with ${PEERS.toLocaleString("en-US")} present (PUT, full atomic rewrite)`,
          value: addMs,
          unit: "ms",
          baseline: { name: "incremental `wg set` + `nft add element`", value: incMs },
        },
      ];
    } finally {
      await lab.destroy();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
