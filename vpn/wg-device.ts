// The server's WireGuard device: created (kernel) or started (wireguard-go), keyed, addressed, and its peer set synced.
import fs from "node:fs";
import path from "node:path";
import { ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { CommandRunner } from "./command-runner.js";

export interface WgPeer {
  publicKey: string;
  /** Client address without prefix; the peer's only AllowedIP on the server. */
  address: string;
}

/** How the device came to exist on `up()`. */
export type WgDeviceMode = "kernel" | "wireguard-go" | "existing";

export interface WgDevice {
  readonly iface: string;
  /** Creates the device or adopts an existing one, sets key, port and address, and brings it up. */
  up(): Promise<WgDeviceMode>;
  /** Makes the device's peers exactly `peers` (one `wg syncconf`). */
  sync(peers: readonly WgPeer[]): Promise<void>;
  /** Deletes the device (a wireguard-go daemon exits with it). */
  down(): Promise<void>;
}

export interface WgDeviceOptions {
  runner: CommandRunner;
  /** Interface name, at most 15 characters. @example wg-proxstack */
  iface: string;
  /** The server's base64 private key; written only to 0600 files in `dataDir`. */
  privateKey: string;
  /** The 0600 file holding the server's private key (what `wg set private-key` reads). */
  keyFile: string;
  /** UDP port the device listens on. @example 51820 */
  listenPort: number;
  /** The server's address with the subnet prefix. @example 10.99.0.1/24 */
  address: string;
  /** Where wireguard-go's log and the short-lived 0600 sync file go. */
  dataDir: string;
  log: Logger;
  /** Bound on waiting for wireguard-go's control socket. @default 10000 */
  startTimeoutMs?: number;
}

export const IFACE_NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/** Renders what `wg syncconf` reads: the interface key and port and one [Peer] per client. */
export function renderServerConf(privateKey: string, listenPort: number, peers: readonly WgPeer[]): string {
  const parts = [`[Interface]\nPrivateKey = ${privateKey}\nListenPort = ${listenPort}\n`];
  for (const p of peers) parts.push(`[Peer]\nPublicKey = ${p.publicKey}\nAllowedIPs = ${p.address}/32\n`);
  return parts.join("\n");
}

export function createWgDevice(o: WgDeviceOptions): WgDevice {
  const { runner, iface, log } = o;
  if (!IFACE_NAME.test(iface))
    throw new ProxstackError("wg-iface-invalid", `interface name '${iface}' must be 1–15 letters, digits or _=+.-`, { kind: "stall" });
  const exists = () =>
    runner.run("ip", ["link", "show", "dev", iface]).then(
      () => true,
      () => false,
    );
  const isWireGuard = () =>
    runner.run("wg", ["show", iface, "public-key"]).then(
      () => true,
      () => false,
    );

  async function startUserspace(): Promise<void> {
    const logFile = path.join(o.dataDir, `wireguard-go-${iface}.log`);
    const fd = fs.openSync(logFile, "a", 0o600);
    let exited: string | undefined;
    try {
      // -f keeps wireguard-go in the foreground of its own (detached) process so its exit is observable.
      const child = runner.spawnDaemon("env", ["WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "wireguard-go", "-f", iface], fd);
      child.on("exit", (code, sig) => {
        exited = `wireguard-go exited (${sig ?? code})`;
      });
      child.on("error", (err) => {
        exited = `wireguard-go could not start: ${err.message}`;
      });
    } finally {
      fs.closeSync(fd);
    }
    const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
    // The control socket lives in /var/run/wireguard, shared by every namespace: the link must exist here too.
    while (!((await exists()) && (await isWireGuard()))) {
      if (exited !== undefined || Date.now() > deadline) {
        const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-5).join(" ").trim();
        throw new ProxstackError(
          "wg-device-failed",
          `start wireguard-go for ${iface}: ${exited ?? "its control socket did not appear in time"}${tail ? ` (${tail})` : ""}`,
          { kind: "retry" },
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  return {
    iface,
    async up() {
      let mode: WgDeviceMode;
      if (await exists()) {
        if (!(await isWireGuard()))
          throw new ProxstackError("wg-device-failed", `interface ${iface} exists but is not a WireGuard device; choose another --interface`, {
            kind: "stall",
          });
        mode = "existing";
      } else {
        const kernel = await runner.run("ip", ["link", "add", "dev", iface, "type", "wireguard"]).then(
          () => true,
          () => false,
        );
        if (!kernel) await startUserspace();
        mode = kernel ? "kernel" : "wireguard-go";
      }
      // Key and port only: an adopted device keeps its peers until the caller syncs the full set.
      await runner.run("wg", ["set", iface, "listen-port", String(o.listenPort), "private-key", o.keyFile]);
      await runner.run("ip", ["address", "replace", o.address, "dev", iface]);
      await runner.run("ip", ["link", "set", "dev", iface, "up"]);
      log.info({ iface, mode, listenPort: o.listenPort }, "wireguard device up");
      return mode;
    },
    async sync(peers) {
      // wg reads a file (a pipe from node is a socket it cannot fopen), and a config without
      // PrivateKey would clear the key: so a 0600 file beside the key file, removed right after.
      const file = path.join(o.dataDir, `.wg-sync-${iface}-${process.pid}.conf`);
      fs.rmSync(file, { force: true });
      fs.writeFileSync(file, renderServerConf(o.privateKey, o.listenPort, peers), { mode: 0o600, flag: "wx" });
      try {
        await runner.run("wg", ["syncconf", iface, file]);
      } finally {
        fs.rmSync(file, { force: true });
      }
    },
    async down() {
      if (await exists()) await runner.run("ip", ["link", "del", "dev", iface]);
    },
  };
}
