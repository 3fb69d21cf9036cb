// Network namespaces joined to the host by a veth pair: the private hosts tests and the simulator talk to.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface NetnsHost {
  /** Namespace name, e.g. `pxs-3f2a1c`. */
  name: string;
  /** Address of the host inside the namespace (eth0). */
  address: string;
  /** Address of the root-namespace end of the veth pair. */
  peerAddress: string;
  /** Prefix length of the link. */
  prefix: number;
  /** Runs a command inside the namespace; rejects on a non-zero exit. */
  exec(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** Removes the namespace and the veth pair; safe to call twice. */
  destroy(): Promise<void>;
}

export interface NetnsOptions {
  /** Address inside the namespace. @default a free address in 10.231.0.0/16 */
  address?: string;
  /** Address of the root-namespace side. @default the address one below `address` */
  peerAddress?: string;
  /** Prefix of the point-to-point link. @default 30 */
  prefix?: number;
  /** Extra routes inside the namespace, via the peer (e.g. a VPN server subnet). */
  routes?: string[];
  /**
   * Address the link point-to-point (`ip addr add A peer B`, /32 on both sides) instead of a shared
   * subnet, so hosts with neighbouring addresses (10.10.0.21, 10.10.0.22) can share one peer
   * address. `prefix` is ignored. @default false
   */
  pointToPoint?: boolean;
}

async function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  const child = execFileP(cmd, args, { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024 });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  return child;
}

/** True when this process may create namespaces (root with `ip` present). */
export async function canCreateNetns(): Promise<{ ok: true } | { ok: false; why: string }> {
  if (process.getuid?.() !== 0) return { ok: false, why: "not root: network namespaces need root" };
  try {
    await run("ip", ["-V"]);
  } catch {
    return { ok: false, why: "the `ip` command (iproute2) is missing" };
  }
  return { ok: true };
}

let counter = 0;

/** A link /30 in 10.231.0.0/16 unlikely to collide across test processes running at once. */
function pickLink(): { address: string; peerAddress: string } {
  const n = ((process.pid * 64 + counter++) % 16_000) * 4;
  const base = (10 << 24) | (231 << 16);
  const ip = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  return { peerAddress: ip(base + n + 1), address: ip(base + n + 2) };
}

/** Creates a namespace with eth0 at `address`, loopback up and a default route via the peer. */
export async function createNetnsHost(opts: NetnsOptions = {}): Promise<NetnsHost> {
  const id = randomBytes(3).toString("hex");
  const name = `pxs-${id}`;
  const hostIf = `pxh${id}`;
  const picked = opts.address ? undefined : pickLink();
  const address = opts.address ?? picked!.address;
  const peerAddress = opts.peerAddress ?? picked?.peerAddress ?? address.replace(/\d+$/, (d) => String(Number(d) - 1));
  const prefix = opts.pointToPoint ? 32 : (opts.prefix ?? 30);
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    await run("ip", ["netns", "pids", name]).then(
      async ({ stdout }) => {
        for (const pid of stdout.split(/\s+/).filter(Boolean)) await run("kill", ["-9", pid]).catch(() => undefined);
      },
      () => undefined,
    );
    await run("ip", ["link", "del", hostIf]).catch(() => undefined);
    await run("ip", ["netns", "del", name]).catch(() => undefined);
  };
  try {
    await run("ip", ["netns", "add", name]);
    await run("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", name]);
    if (opts.pointToPoint) {
      await run("ip", ["addr", "add", peerAddress, "peer", address, "dev", hostIf]);
    } else {
      await run("ip", ["addr", "add", `${peerAddress}/${prefix}`, "dev", hostIf]);
    }
    await run("ip", ["link", "set", hostIf, "up"]);
    if (opts.pointToPoint) {
      await run("ip", ["-n", name, "addr", "add", address, "peer", peerAddress, "dev", "eth0"]);
    } else {
      await run("ip", ["-n", name, "addr", "add", `${address}/${prefix}`, "dev", "eth0"]);
    }
    await run("ip", ["-n", name, "link", "set", "eth0", "up"]);
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
    await run("ip", ["-n", name, "route", "add", "default", "via", peerAddress]);
    for (const r of opts.routes ?? []) await run("ip", ["-n", name, "route", "replace", r, "via", peerAddress]);
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    name,
    address,
    peerAddress,
    prefix,
    exec: (cmd, args, o) => run("ip", ["netns", "exec", name, cmd, ...args], o),
    destroy,
  };
}
