// Starting and stopping the VPN service: data dir, key, store, device, firewall, restore, then HTTP.
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { systemClock, type Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import { poolSpan, vpnNetwork } from "./addressing.js";
import { createVpnApp } from "./app.js";
import { createCommandRunner } from "./command-runner.js";
import { createNftFirewall, type Firewall } from "./firewall.js";
import { createPeerService, type PeerService } from "./peer-service.js";
import { openPeerStore } from "./peer-store.js";
import { loadOrCreateServerKey } from "./server-key.js";
import { createWgDevice, type WgDevice } from "./wg-device.js";
import { ProxstackError } from "../lib/errors.js";

export interface VpnServiceOptions {
  /** Holds vpn.db (SQLite, WAL), server.key (0600) and wireguard-go's log. */
  dataDir: string;
  token: string;
  /** HTTP port; 0 picks a free one. @default 0 */
  port?: number;
  /** HTTP listen address. @default 127.0.0.1 */
  host?: string;
  /** WireGuard interface. @default wg-proxstack */
  iface?: string;
  /** VPN subnet; the server takes its first host. @default 10.99.0.0/24 */
  subnet?: string;
  /** HOST:PORT written into client configs. @example vpn.example.com:51820 */
  endpoint: string;
  /** UDP port of the device. @default the endpoint's port */
  listenPort?: number;
  /** Container pool CIDR targets must lie in. @example 10.10.0.0/24 */
  pool?: string;
  /** DNS servers written into client configs. */
  dns?: string[];
  /** Ports peers may open on their containers; all when absent. */
  allowedPorts?: number[];
  /** Run `wg`, `ip`, `nft` and wireguard-go inside this network namespace. */
  netns?: string;
  /** nftables table (inet). @default proxstack_vpn */
  table?: string;
  log: Logger;
  clock?: Clock;
  /** Replace the real device or firewall (in-process tests without root). */
  device?: WgDevice;
  firewall?: Firewall;
}

export interface VpnServer {
  url: string;
  port: number;
  service: PeerService;
  device: WgDevice;
  firewall: Firewall;
  /**
   * Stops HTTP and closes the database. The device and rules stay up by default, so peers keep
   * working while the service restarts; `teardown` removes them too.
   */
  close(opts?: { teardown?: boolean }): Promise<void>;
}

export async function startVpnService(o: VpnServiceOptions): Promise<VpnServer> {
  const network = vpnNetwork(o.subnet ?? "10.99.0.0/24");
  const endpointPort = Number(/:(\d{1,5})$/.exec(o.endpoint)?.[1]);
  const listenPort = o.listenPort ?? endpointPort;
  if (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535)
    throw new ProxstackError("vpn-endpoint-invalid", `endpoint '${o.endpoint}' must be HOST:PORT`, { kind: "stall" });
  const iface = o.iface ?? "wg-proxstack";
  fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const key = loadOrCreateServerKey(o.dataDir);
  const runner = createCommandRunner(o.netns !== undefined ? { netns: o.netns } : {});
  const log = o.log.child({ component: "vpn" });
  const device =
    o.device ??
    createWgDevice({
      runner,
      iface,
      privateKey: key.privateKey,
      keyFile: key.keyFile,
      listenPort,
      address: `${network.serverAddress}/${network.prefix}`,
      dataDir: o.dataDir,
      log,
    });
  const firewall =
    o.firewall ??
    createNftFirewall({
      runner,
      iface,
      serverAddress: network.serverAddress,
      log,
      ...(o.table !== undefined ? { table: o.table } : {}),
      ...(o.allowedPorts !== undefined ? { allowedPorts: o.allowedPorts } : {}),
    });
  const store = openPeerStore(path.join(o.dataDir, "vpn.db"));
  try {
    const service = createPeerService({
      store,
      device,
      firewall,
      network,
      serverPublicKey: key.publicKey,
      endpoint: o.endpoint,
      clock: o.clock ?? systemClock,
      log,
      ...(o.pool !== undefined ? { pool: poolSpan(o.pool), poolCidr: o.pool } : {}),
      ...(o.dns !== undefined ? { dns: o.dns } : {}),
    });
    // restore() loads the nftables table before it brings the device up and gives it peers.
    await service.restore();
    const app = createVpnApp({ service, token: o.token, iface, serverPublicKey: key.publicKey, log });
    const server = app.listen(o.port ?? 0, o.host ?? "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    const { port, address } = server.address() as AddressInfo;
    const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
    log.info({ url, iface, subnet: network.subnet, publicKey: key.publicKey }, "vpn service listening");
    return {
      url,
      port,
      service,
      device,
      firewall,
      async close(opts = {}) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        store.close();
        if (opts.teardown) {
          await firewall.remove();
          await device.down();
        }
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}
