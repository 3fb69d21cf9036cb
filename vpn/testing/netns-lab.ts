// Test topology for the VPN: a server namespace bridging clients (WAN) and containers (LAN), nothing in the root namespace.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { canRunVpnService } from "../host-support.js";

export interface LabNs {
  name: string;
  /** Address on its link to the server (WAN for clients, LAN for containers). */
  address: string;
}

export interface VpnLab {
  id: string;
  server: LabNs & { lanAddress: string };
  clients: LabNs[];
  containers: LabNs[];
  exec(ns: string, cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** A TCP listener answering `reply` and closing, inside `ns` on 0.0.0.0:port. */
  listen(ns: string, port: number, reply: string): Promise<void>;
  /** Connects from `ns`; resolves what the server said, or undefined when refused, unreachable or timed out. */
  probe(ns: string, ip: string, port: number, timeoutS?: number): Promise<string | undefined>;
  /** Polls `probe` until it answers or `attempts` run out. */
  waitReach(ns: string, ip: string, port: number, attempts?: number): Promise<string | undefined>;
  /** Brings up a WireGuard client in `ns` from a wg-quick config (via `wg-quick strip` and `wg setconf`). */
  upClient(ns: string, iface: string, config: string): Promise<void>;
  destroy(): Promise<void>;
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve({ stdout, stderr });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

/** The lab needs what the VPN service needs. */
export const canRunVpnLab = canRunVpnService;

/** Builds the lab: server `pxv-ID-s`, clients `pxv-ID-cN` on 192.168.250.0/24, containers `pxv-ID-kN` at `containerIps` in 10.10.0.0/24. */
export async function createVpnLab(o: { clients: number; containerIps: string[] }): Promise<VpnLab> {
  const id = randomBytes(3).toString("hex");
  const S = `pxv-${id}-s`;
  const made: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `pxv-${id}-`));
  const exec: VpnLab["exec"] = (ns, cmd, args, opts) => run("ip", ["netns", "exec", ns, cmd, ...args], opts);
  const destroy = async () => {
    for (const ns of [...made].reverse()) {
      // Kill what runs inside first: a wireguard-go left alive keeps its control socket in the shared /var/run.
      const { stdout } = await run("ip", ["netns", "pids", ns]).catch(() => ({ stdout: "" }));
      for (const pid of stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      await run("ip", ["netns", "del", ns]).catch(() => undefined);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    // Killed wireguard-go daemons leave their control sockets behind; only this lab's names start with pxv<id>.
    const sockDir = "/var/run/wireguard";
    for (const f of fs.existsSync(sockDir) ? fs.readdirSync(sockDir) : []) {
      if (f.startsWith(`pxv${id}`) && f.endsWith(".sock")) fs.rmSync(path.join(sockDir, f), { force: true });
    }
  };
  const addNs = async (name: string) => {
    await run("ip", ["netns", "add", name]);
    made.push(name);
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  };
  try {
    await addNs(S);
    for (const [br, cidr] of [
      ["wan", "192.168.250.1/24"],
      ["lan", "10.10.0.1/24"],
    ] as const) {
      await run("ip", ["-n", S, "link", "add", br, "type", "bridge"]);
      await run("ip", ["-n", S, "addr", "add", cidr, "dev", br]);
      await run("ip", ["-n", S, "link", "set", br, "up"]);
    }
    await exec(S, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"]);
    const attach = async (ns: string, br: string, port: string, cidr: string, gw: string) => {
      await addNs(ns);
      await run("ip", ["-n", S, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      await run("ip", ["-n", S, "link", "set", port, "master", br]);
      await run("ip", ["-n", S, "link", "set", port, "up"]);
      await run("ip", ["-n", ns, "addr", "add", cidr, "dev", "eth0"]);
      await run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      await run("ip", ["-n", ns, "route", "add", "default", "via", gw]);
    };
    const clients: LabNs[] = [];
    for (let i = 0; i < o.clients; i++) {
      const c = { name: `pxv-${id}-c${i + 1}`, address: `192.168.250.${10 + i}` };
      await attach(c.name, "wan", `w${i + 1}`, `${c.address}/24`, "192.168.250.1");
      clients.push(c);
    }
    const containers: LabNs[] = [];
    for (const [i, ip] of o.containerIps.entries()) {
      const k = { name: `pxv-${id}-k${i + 1}`, address: ip };
      await attach(k.name, "lan", `l${i + 1}`, `${ip}/24`, "10.10.0.1");
      containers.push(k);
    }
    const probe: VpnLab["probe"] = async (ns, ip, port, timeoutS = 3) => {
      const script = `exec 3<>/dev/tcp/${ip}/${port} && cat <&3`;
      return exec(ns, "timeout", [String(timeoutS), "bash", "-c", script], { timeoutMs: (timeoutS + 2) * 1000 }).then(
        (r) => r.stdout.trim(),
        () => undefined,
      );
    };
    const lab: VpnLab = {
      id,
      server: { name: S, address: "192.168.250.1", lanAddress: "10.10.0.1" },
      clients,
      containers,
      exec,
      async listen(ns, port, reply) {
        // A probe killed by `timeout` resets its connection: the listener must survive that.
        const code = `require("net").createServer((s) => { s.on("error", () => {}); s.end(${JSON.stringify(reply + "\n")}); }).listen(${port}, "0.0.0.0")`;
        const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", code], { stdio: ["ignore", "ignore", "pipe"], detached: true });
        let stderr = "";
        let exited: string | undefined;
        child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
        child.on("exit", (c, sig) => (exited = `exited (${sig ?? c})`));
        child.unref();
        // Wait until the port answers from inside the namespace; a loaded machine may take seconds to start node.
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && exited === undefined) {
          if ((await probe(ns, "127.0.0.1", port, 1)) === reply) {
            child.stderr.destroy();
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`listener in ${ns}:${port} did not come up: ${exited ?? "timed out"} ${stderr.trim()}`);
      },
      probe,
      async waitReach(ns, ip, port, attempts = 15) {
        for (let i = 0; i < attempts; i++) {
          const got = await probe(ns, ip, port, 2);
          if (got !== undefined) return got;
          await new Promise((r) => setTimeout(r, 200));
        }
        return undefined;
      },
      async upClient(ns, iface, config) {
        const file = path.join(tmp, `${iface}.conf`);
        fs.writeFileSync(file, config, { mode: 0o600 });
        const stripped = (await run("wg-quick", ["strip", file])).stdout;
        const strippedFile = path.join(tmp, `${iface}.stripped`);
        fs.writeFileSync(strippedFile, stripped, { mode: 0o600 });
        await exec(ns, "env", ["WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "wireguard-go", iface]);
        // The daemonised wireguard-go may return before its link and control socket exist.
        for (let i = 0; ; i++) {
          const ready = await exec(ns, "ip", ["link", "show", "dev", iface])
            .then(
              () => exec(ns, "wg", ["show", iface]),
              () => undefined,
            )
            .then(Boolean, () => false);
          if (ready) break;
          if (i >= 100) throw new Error(`wireguard-go ${iface} in ${ns} did not come up`);
          await new Promise((r) => setTimeout(r, 50));
        }
        await exec(ns, "wg", ["setconf", iface, strippedFile]);
        const address = /^Address\s*=\s*(\S+)$/m.exec(config)?.[1];
        const allowed = /^AllowedIPs\s*=\s*(.+)$/m.exec(config)?.[1]?.split(/\s*,\s*/) ?? [];
        if (!address) throw new Error("config has no Address");
        await exec(ns, "ip", ["addr", "add", address, "dev", iface]);
        await exec(ns, "ip", ["link", "set", iface, "up"]);
        for (const a of allowed) await exec(ns, "ip", ["route", "replace", a, "dev", iface]);
      },
      destroy,
    };
    return lab;
  } catch (err) {
    await destroy();
    throw err;
  }
}
