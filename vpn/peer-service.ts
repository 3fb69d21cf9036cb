// The VPN's decisions and their application: allocate, key, and apply wg + nftables together or not at all.
import type { Ipv4Span } from "../schemas/common.js";
import type { Clock } from "../lib/clock.js";
import { chainMessage, ProxstackError } from "../lib/errors.js";
import { createSerialGate } from "../lib/serial-gate.js";
import type { Logger } from "../lib/logger.js";
import { allocateAddress, ipInSpan, type VpnNetwork } from "./addressing.js";
import type { Peer, PeerWithConfig, PutPeerBody, RotateKeyBody } from "./api-schemas.js";
import { renderClientConfig } from "./client-config.js";
import type { Firewall } from "./firewall.js";
import { generateKeyPair } from "./keys.js";
import type { PeerRecord, PeerStore } from "./peer-store.js";
import type { WgDevice } from "./wg-device.js";

export interface PeerServiceDeps {
  store: PeerStore;
  device: WgDevice;
  firewall: Firewall;
  network: VpnNetwork;
  /** The container pool targets must lie in; any address when absent. */
  pool?: Ipv4Span;
  /** Pool as written, for messages. */
  poolCidr?: string;
  serverPublicKey: string;
  /** HOST:PORT written into client configs. */
  endpoint: string;
  dns?: string[];
  /** @default 25 */
  keepalive?: number;
  clock: Clock;
  log: Logger;
}

export interface PeerService {
  /**
   * Brings the firewall, then the device (up), then its peers to the stored state (on start). Fails closed:
   * on any failure the device is left with no peers and `vpn-restore-failed` is thrown.
   */
  restore(): Promise<number>;
  put(owner: string, body: PutPeerBody): Promise<PeerWithConfig>;
  rotateKey(owner: string, body: RotateKeyBody): Promise<PeerWithConfig>;
  get(owner: string): PeerWithConfig;
  list(): Peer[];
  remove(owner: string): Promise<void>;
  count(): number;
}

const toPeer = (r: PeerRecord): Peer => ({ ...r, address: `${r.address}/32` });

export function createPeerService(d: PeerServiceDeps): PeerService {
  const keepalive = d.keepalive ?? 25;
  // The store is the record; this copy spares re-reading and re-parsing every row on each change.
  // Only this service writes the store, and only inside `serial`, so the copy cannot go stale.
  let cached: PeerRecord[] | undefined;
  const all = (): PeerRecord[] => (cached ??= d.store.list());
  // Mutations run one at a time: each applies the complete next state, so order must be total.
  const serial = createSerialGate();

  // Rules first, peers second: the table rejects whatever arrives on the device and is not in its set, so a
  // peer the device knows is never without rules, whether it is being added, moved or removed.
  async function applyAll(peers: readonly PeerRecord[]): Promise<void> {
    await d.firewall.apply(peers);
    await d.device.sync(peers);
  }

  /** Fails closed: the device keeps no peer when its rules may be missing (best effort; logged when even that fails). */
  async function dropAllPeers(why: string): Promise<void> {
    await d.device.sync([]).then(
      () => d.log.error({ why }, "vpn device left with no peers"),
      (err: unknown) => d.log.error({ why, err: chainMessage(err) }, "could not clear the vpn device's peers"),
    );
  }

  /** Applies `next`; on failure puts `prev` back (or, when that fails too, clears the device) and throws a retryable error. */
  async function transition(what: string, prev: readonly PeerRecord[], next: readonly PeerRecord[]): Promise<void> {
    try {
      await applyAll(next);
    } catch (err) {
      await applyAll(prev).catch(async (undo: unknown) => {
        d.log.error({ err: chainMessage(undo) }, "could not restore the previous VPN state");
        await dropAllPeers(`${what} failed and so did its undo`);
      });
      throw new ProxstackError("apply-failed", `${what}: ${chainMessage(err)}`, { kind: "retry", status: 503, cause: err });
    }
  }

  function withConfig(r: PeerRecord, privateKey?: string): PeerWithConfig {
    const config = renderClientConfig({
      address: r.address,
      publicKey: r.publicKey,
      serverPublicKey: d.serverPublicKey,
      serverAddress: d.network.serverAddress,
      endpoint: d.endpoint,
      targets: r.targets,
      keepalive,
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(d.dns && d.dns.length > 0 ? { dns: d.dns } : {}),
    });
    return { ...toPeer(r), config, ...(privateKey !== undefined ? { privateKey } : {}) };
  }

  function checkTargets(targets: readonly string[]): string[] {
    const fields: Record<string, string> = {};
    const vpnSpan = { first: d.network.clients.first - 2, last: d.network.clients.last + 1 };
    targets.forEach((t, i) => {
      if (d.pool && !ipInSpan(t, d.pool)) fields[`targets.${i}`] = `${t} is outside the container pool ${d.poolCidr ?? ""}`.trim();
      // Even without a configured pool, a target inside the VPN subnet would open a path between peers.
      else if (ipInSpan(t, vpnSpan)) fields[`targets.${i}`] = `${t} is inside the VPN subnet ${d.network.subnet}; targets are containers`;
    });
    if (Object.keys(fields).length > 0) {
      throw new ProxstackError("target-outside-pool", `targets must be container addresses in ${d.poolCidr ?? "the pool"}`, {
        kind: "stall",
        status: 422,
        fields,
      });
    }
    return [...new Set(targets)].sort();
  }

  /** A container address belongs to one owner: a peer still holding it (a stack not yet cleaned up) blocks it. */
  function checkTargetsFree(all: readonly PeerRecord[], owner: string, targets: readonly string[]): void {
    const fields: Record<string, string> = {};
    targets.forEach((t, i) => {
      const holder = all.find((p) => p.owner !== owner && p.targets.includes(t));
      if (holder) fields[`targets.${i}`] = `${t} is a target of ${holder.owner}'s peer`;
    });
    if (Object.keys(fields).length > 0) {
      throw new ProxstackError(
        "target-in-use",
        `${Object.values(fields).join("; ")}; an address reaches one owner only (remove that peer first if its stack is gone)`,
        {
          kind: "stall",
          status: 409,
          fields,
        },
      );
    }
  }

  function checkKeyFree(all: readonly PeerRecord[], owner: string, publicKey: string): void {
    const other = all.find((p) => p.publicKey === publicKey && p.owner !== owner);
    if (other)
      throw new ProxstackError("public-key-in-use", "this public key already belongs to another peer; generate a new key pair", {
        kind: "stall",
        status: 409,
        fields: { publicKey: "already in use" },
      });
  }

  function mustGet(owner: string): PeerRecord {
    const r = all().find((p) => p.owner === owner);
    if (!r) throw new ProxstackError("peer-not-found", `no VPN peer for ${owner}`, { kind: "stall", status: 404 });
    return r;
  }

  async function commit(what: string, prev: PeerRecord[], record: PeerRecord, privateKey?: string): Promise<PeerWithConfig> {
    const next = [...prev.filter((p) => p.owner !== record.owner), record];
    await transition(what, prev, next);
    try {
      d.store.upsert(record);
    } catch (err) {
      await transition(`${what} (undo after a database error)`, next, prev).catch(() => undefined);
      throw err;
    }
    cached = next.sort((a, b) => (a.owner < b.owner ? -1 : 1));
    d.log.info({ owner: record.owner, address: record.address, targets: record.targets.length }, what);
    return withConfig(record, privateKey);
  }

  return {
    restore: () =>
      serial(async () => {
        cached = undefined;
        const peers = all();
        try {
          // The rules go in before the device comes up: an adopted device may still hold peers from before.
          await d.firewall.apply(peers);
          await d.device.up();
          await d.device.sync(peers);
        } catch (err) {
          await dropAllPeers("restore failed");
          throw new ProxstackError(
            "vpn-restore-failed",
            `restore the VPN (nftables rules, then ${peers.length} peers): ${chainMessage(err)}; the device was left with no peers`,
            {
              kind: "retry",
              cause: err,
            },
          );
        }
        d.log.info({ peers: peers.length }, "vpn state restored");
        return peers.length;
      }),
    put: (owner, body) =>
      serial(async () => {
        const targets = checkTargets(body.targets);
        const prev = all();
        checkTargetsFree(prev, owner, body.targets);
        const existing = prev.find((p) => p.owner === owner);
        const address =
          existing?.address ??
          allocateAddress(
            d.network,
            prev.map((p) => p.address),
          );
        if (address === undefined) {
          throw new ProxstackError(
            "subnet-full",
            `the VPN subnet ${d.network.subnet} has no free address left; remove unused peers or configure a larger subnet`,
            { kind: "stall", status: 409 },
          );
        }
        let privateKey: string | undefined;
        let publicKey = body.publicKey ?? existing?.publicKey;
        if (publicKey === undefined) ({ privateKey, publicKey } = generateKeyPair());
        checkKeyFree(prev, owner, publicKey);
        const now = d.clock.now().toISOString();
        const record: PeerRecord = { owner, address, publicKey, targets, createdAt: existing?.createdAt ?? now, updatedAt: now };
        return commit(existing ? "vpn peer updated" : "vpn peer created", prev, record, privateKey);
      }),
    rotateKey: (owner, body) =>
      serial(async () => {
        const prev = all();
        const existing = mustGet(owner);
        let privateKey: string | undefined;
        let publicKey = body.publicKey;
        if (publicKey === undefined) ({ privateKey, publicKey } = generateKeyPair());
        checkKeyFree(prev, owner, publicKey);
        const record: PeerRecord = { ...existing, publicKey, updatedAt: d.clock.now().toISOString() };
        return commit("vpn peer key rotated", prev, record, privateKey);
      }),
    get: (owner) => withConfig(mustGet(owner)),
    list: () => all().map(toPeer),
    remove: (owner) =>
      serial(async () => {
        const prev = all();
        mustGet(owner);
        const next = prev.filter((p) => p.owner !== owner);
        await transition("remove vpn peer", prev, next);
        d.store.remove(owner);
        cached = next;
        d.log.info({ owner }, "vpn peer removed");
      }),
    count: () => all().length,
  };
}
