// In-memory WgDevice and Firewall: record what the service applied, fail on demand (tests without root).
import { ProxstackError } from "../../lib/errors.js";
import type { Firewall, FirewallPeer } from "../firewall.js";
import type { WgDevice, WgPeer } from "../wg-device.js";

export interface MemoryDevice extends WgDevice {
  /** The peers as last synced (public key → address). */
  peers: Map<string, string>;
  syncs: number;
  isUp: boolean;
  /** When set, the next sync fails with this message (once). */
  failNext?: string;
}

export function createMemoryDevice(iface = "wg-test"): MemoryDevice {
  const dev: MemoryDevice = {
    iface,
    peers: new Map(),
    syncs: 0,
    isUp: false,
    up() {
      dev.isUp = true;
      return Promise.resolve("existing");
    },
    sync(peers: readonly WgPeer[]) {
      if (dev.failNext !== undefined) {
        const why = dev.failNext;
        delete dev.failNext;
        return Promise.reject(new ProxstackError("host-command-failed", `wg syncconf: ${why}`, { kind: "retry" }));
      }
      dev.syncs++;
      dev.peers = new Map(peers.map((p) => [p.publicKey, p.address]));
      return Promise.resolve();
    },
    down() {
      dev.isUp = false;
      dev.peers.clear();
      return Promise.resolve();
    },
  };
  return dev;
}

export interface MemoryFirewall extends Firewall {
  /** Allowed "peer . container" pairs as last applied. */
  pairs: Set<string>;
  failNext?: string;
}

export function createMemoryFirewall(): MemoryFirewall {
  const fw: MemoryFirewall = {
    pairs: new Set(),
    apply(peers: readonly FirewallPeer[]) {
      if (fw.failNext !== undefined) {
        const why = fw.failNext;
        delete fw.failNext;
        return Promise.reject(new ProxstackError("host-command-failed", `nft -f: ${why}`, { kind: "retry" }));
      }
      fw.pairs = new Set(peers.flatMap((p) => p.targets.map((t) => `${p.address} . ${t}`)));
      return Promise.resolve();
    },
    remove() {
      fw.pairs.clear();
      return Promise.resolve();
    },
  };
  return fw;
}
