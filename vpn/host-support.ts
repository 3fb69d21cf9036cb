// Whether this host can run the VPN service in-process: root (network admin), WireGuard, nftables, a TUN device.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { canCreateNetns } from "../testhosts/netns.js";

const ok = (cmd: string, args: string[]) =>
  promisify(execFile)(cmd, args).then(
    () => true,
    () => false,
  );

/** Root, iproute2, wg and wg-quick, nft, wireguard-go and /dev/net/tun; `why` names the Debian package to install. */
export async function canRunVpnService(): Promise<{ ok: true } | { ok: false; why: string }> {
  const ns = await canCreateNetns();
  if (!ns.ok) return ns;
  for (const [cmd, pkg] of [
    ["wg", "wireguard-tools"],
    ["wg-quick", "wireguard-tools"],
    ["nft", "nftables"],
    ["wireguard-go", "wireguard-go"],
  ] as const) {
    if (!(await ok("sh", ["-c", `command -v ${cmd}`]))) return { ok: false, why: `${cmd} is missing: apt-get install ${pkg}` };
  }
  if (!fs.existsSync("/dev/net/tun")) return { ok: false, why: "/dev/net/tun is missing (wireguard-go needs it)" };
  return { ok: true };
}
