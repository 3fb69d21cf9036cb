// SSH test hosts: Debian's real sshd in its own network, mount, UTS, PID and user namespaces, with private /etc, /var, /root, /home, /run and /tmp.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNetnsHost, type NetnsHost, type NetnsOptions } from "./netns.js";
import { ProxstackError } from "../lib/errors.js";

/** Directories the host sees through an overlay of the machine's own (its Debian configuration and state). */
const OVERLAID = ["etc", "var"] as const;
/** Directories the host gets empty (kept in its layers): the machine's homes, sockets and temporary files stay out of sight. */
const PRIVATE = ["root", "home", "run", "tmp"] as const;
/**
 * Inside the host, root and the system ids (below 1000: sshd, shadow, tty…) are the machine's own, so
 * the Debian files the host shares keep their owners; every user id from 1000 on (the tenants') is the
 * machine's 100000 + N, no one's on the machine.
 */
const ID_MAP = "0 0 1000\n1000 101000 64536\n";

/**
 * Stage 1, as the machine's root in new mount and UTS namespaces (inside the network namespace).
 * Paths come in as arguments, never spliced into the script. It mounts a private tmpfs for the layers
 * (so nothing is written to the host's disk) unless they persist in a directory; overlays /etc and /var;
 * gives /root, /home, /run and /tmp empty directories of the layers and /dev a minimal tmpfs (no disks);
 * makes every other mount read-only; lets sshd bind port 22 without the machine's capabilities; then
 * starts stage 2 as PID 1 of a new PID namespace with its own /proc.
 */
const STAGE1 = `set -eu
layers="$1"; base="$2"; shift 2
if [ "$layers" = tmpfs ]; then mount -t tmpfs -o mode=0700 pxs-sshhost "$base"; fi
for d in ${OVERLAID.join(" ")}; do
  mkdir -p "$base/upper/$d" "$base/work/$d"
  mount -t overlay pxs-sshhost -o "lowerdir=/$d,upperdir=$base/upper/$d,workdir=$base/work/$d" "/$d"
done
for d in ${PRIVATE.join(" ")}; do mkdir -p "$base/private/$d"; mount --bind "$base/private/$d" "/$d"; done
chmod 0700 /root; chmod 0755 /home /run; chmod 1777 /tmp
mkdir -p "$base/dev"
mount -t tmpfs -o mode=0755,nosuid,noexec pxs-dev "$base/dev"
for n in null zero full random urandom tty; do touch "$base/dev/$n"; mount --bind "/dev/$n" "$base/dev/$n"; done
mkdir "$base/dev/pts" "$base/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 pxs-devpts "$base/dev/pts"
ln -s pts/ptmx "$base/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev pxs-shm "$base/dev/shm"
mount --move "$base/dev" /dev
# Everything else the host sees is the machine's: read-only, and locked so once root is in its own user namespace.
findmnt -rn -o TARGET | while read -r t; do
  t=$(printf '%b' "$t")
  case "$t" in /etc|/etc/*|/var|/var/*|/root|/home|/run|/tmp|/dev|/dev/*|/proc|/proc/*|"$base"|"$base"/*) continue ;; esac
  mount -o remount,bind,ro "$t" 2>/dev/null || true
done
echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start
exec unshare --pid --fork --kill-child --mount-proc sh -c "$1" sh "$@"`;

/**
 * Stage 2, PID 1 of the host's PID namespace (still the machine's root, in a mount namespace of its own
 * with the PID namespace's /proc). It makes the kernel's knobs in /proc read-only, starts stage 3 in a
 * new user namespace, maps its ids (ID_MAP), says "ready" and waits for it. Stage 3 has no mount
 * namespace of its own, so root inside can neither remount nor unmount anything.
 */
const STAGE2 = `set -eu
shift
for p in sys sysrq-trigger irq bus fs; do
  if [ -e "/proc/$p" ]; then mount --bind "/proc/$p" "/proc/$p"; mount -o remount,bind,ro "/proc/$p"; fi
done
# A background job's stdin is /dev/null unless redirected: stage 3 must read the caller's "go" line.
exec 3<&0
unshare --user sh -c "$1" sh "$@" <&3 3<&- &
child=$!
me=$(readlink /proc/self/ns/user)
while [ "$(readlink /proc/$child/ns/user)" = "$me" ]; do sleep 0.01; done
printf '${ID_MAP}' > /proc/$child/uid_map
printf '${ID_MAP}' > /proc/$child/gid_map
echo ready
wait "$child"`;

/** Stage 3, in the host's user namespace: waits for its id map and for one line on stdin (the caller prepares users and keys meanwhile), then becomes sshd. */
const STAGE3 = `set -eu
shift
while [ -z "$(cat /proc/self/uid_map)" ]; do sleep 0.01; done
read -r _go
exec "$@"`;

/** The drop-in the legacy backend effectively left behind: passwords and root passwords allowed. */
export const LEGACY_INSECURE_DROPIN = "PasswordAuthentication yes\nKbdInteractiveAuthentication yes\nPermitRootLogin yes\n";

export interface SshTestHostOptions extends NetnsOptions {
  /** Public key lines root accepts (e.g. the provisioning key). */
  rootAuthorizedKeys: string[];
  /** Port sshd listens on inside the namespace. @default 22 */
  port?: number;
  /** Users created before sshd starts, each with a known password so password logins are a real check. */
  users?: { name: string; password: string }[];
  /** A known root password (so "root password login fails" tests sshd, not a missing password). */
  rootPassword?: string;
  /** Drop-ins written to /etc/ssh/sshd_config.d before sshd starts: file name → content.
   * @default { "50-legacy-insecure.conf": LEGACY_INSECURE_DROPIN } */
  sshdDropIns?: Record<string, string>;
  /** Host name inside the host (its own UTS namespace). */
  hostname?: string;
  /**
   * Keep the overlay layers in this directory on the host's disk, so a host destroyed and created
   * again with the same directory keeps its users, keys and host key (a stopped and started
   * container). The directory is not removed by destroy(). @default a private tmpfs, gone on destroy
   */
  persistDir?: string;
}

export interface SshTestHost {
  address: string;
  port: number;
  netns: NetnsHost;
  sshdPid: number;
  /** Runs a command as the host's root (its user, PID, mount, network and UTS namespaces); rejects on a non-zero exit. */
  exec(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** Reads a file as the host sees it (through its overlay). */
  readFile(path: string): Promise<string>;
  /** Writes a file inside the host (through its overlay). */
  writeFile(path: string, content: string, mode?: string): Promise<void>;
  /** Gives the host a new ed25519 host key and makes sshd use it (as a re-created container would). */
  regenerateHostKey(): Promise<void>;
  /** sshd's stderr so far (for test diagnostics). */
  log(): string;
  /** Kills sshd and every process in the namespace, removes the namespace; safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * Every program the test hosts and the hooks run inside them, with the Debian package that ships it.
 * The hooks' own template check (hooks/ssh-harden.ts) asks a container for the last group; test hosts
 * borrow the machine's binaries, so this machine must have them all.
 */
export const TEST_HOST_TOOLS: readonly (readonly [bin: string, pkg: string])[] = [
  // Building the host: namespaces, overlays, the process tree.
  ["ip", "iproute2"],
  ["unshare", "util-linux"],
  ["nsenter", "util-linux"],
  ["setpriv", "util-linux"],
  ["mount", "mount"],
  ["findmnt", "util-linux"],
  ["sh", "dash"],
  ["hostname", "hostname"],
  ["cat", "coreutils"],
  ["install", "coreutils"],
  ["mkdir", "coreutils"],
  ["readlink", "coreutils"],
  // Its sshd and the accounts the tests give it.
  ["/usr/sbin/sshd", "openssh-server"],
  ["ssh-keygen", "openssh-client"],
  ["useradd", "passwd"],
  ["chpasswd", "passwd"],
  // What the ssh-harden hook runs inside a container.
  ["usermod", "passwd"],
  ["getent", "libc-bin"],
  ["id", "coreutils"],
  ["sudo", "sudo"],
  ["visudo", "sudo"],
];

/** True when test hosts can run here: root and every tool in TEST_HOST_TOOLS; `why` names the Debian package. */
export async function canRunSshTestHosts(
  has: (bin: string) => Promise<boolean> = (bin) => new Promise((res) => execFile("sh", ["-c", 'command -v "$1"', "sh", bin], (err) => res(!err))),
): Promise<{ ok: true } | { ok: false; why: string }> {
  if (process.getuid?.() !== 0) return { ok: false, why: "not root: network and mount namespaces need root" };
  const missing = [];
  for (const [bin, pkg] of TEST_HOST_TOOLS) if (!(await has(bin))) missing.push([bin, pkg] as const);
  if (missing.length === 0) return { ok: true };
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  return { ok: false, why: `${missing.map(([bin]) => bin).join(", ")} missing: apt-get install ${pkgs.join(" ")} (or bash scripts/setup.sh --test)` };
}

// The process-exit safety net must outlive any single test, so live hosts are tracked per process.
interface LiveHost {
  pid: number | undefined;
  netns: string;
  base: string;
  removeBase: boolean;
}
const live = new Map<string, LiveHost>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const h of live.values()) cleanupSync(h);
  });
}

function cleanupSync(h: LiveHost): void {
  const quiet = { stdio: "ignore" as const, timeout: 5000 };
  if (h.pid !== undefined) {
    try {
      process.kill(h.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  try {
    const pids = execFileSync("ip", ["netns", "pids", h.netns], { encoding: "utf8", timeout: 5000 });
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    execFileSync("ip", ["netns", "del", h.netns], quiet);
  } catch {
    // already gone
  }
  if (h.removeBase) rmSync(h.base, { recursive: true, force: true });
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) {
        const why = `${stderr.trim() || err.message} (exit ${String((err as { code?: unknown }).code)} signal ${String((err as { signal?: unknown }).signal)})`;
        reject(new ProxstackError("testhost.command-failed", `${cmd} ${args.join(" ")}: ${why}`, { kind: "retry", cause: err }));
      } else resolve({ stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe early; that is not an error here.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

/** The only child of a process (the test host's stages each start one). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  if (children.length !== 1 || !Number.isInteger(children[0]))
    throw new ProxstackError("testhost.start-failed", `test host process ${pid} has children [${children.join(", ")}], expected one`, { kind: "retry" });
  return children[0]!;
}

/** Polls until `address:port` accepts a TCP connection or `timeoutMs` passes. */
async function waitForPort(address: string, port: number, timeoutMs: number, alive: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect({ host: address, port, timeout: 1000 });
      s.once("connect", () => {
        s.destroy();
        res(true);
      });
      s.once("error", () => res(false));
      s.once("timeout", () => {
        s.destroy();
        res(false);
      });
    });
    if (ok) return;
    const dead = alive();
    if (dead !== undefined) throw new ProxstackError("testhost.sshd-exited", `sshd exited before listening: ${dead}`, { kind: "retry" });
    if (Date.now() > deadline)
      throw new ProxstackError("testhost.sshd-timeout", `sshd did not listen on ${address}:${port} within ${timeoutMs}ms`, { kind: "retry" });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a test host: namespace + veth, private overlays, users and keys, then the real sshd. */
export async function createSshTestHost(opts: SshTestHostOptions): Promise<SshTestHost> {
  installExitHook();
  const port = opts.port ?? 22;
  const netns = await createNetnsHost(opts);
  const removeBase = opts.persistDir === undefined;
  const base = opts.persistDir ?? mkdtempSync(join(tmpdir(), "pxs-sshhost-"));
  if (opts.persistDir !== undefined) mkdirSync(opts.persistDir, { recursive: true, mode: 0o700 });
  const record: LiveHost = { pid: undefined, netns: netns.name, base, removeBase };
  live.set(netns.name, record);
  let stderr = "";
  let exited: string | undefined;
  let child: ChildProcess | undefined;
  let destroyed = false;
  const listening = () => stderr.split("Server listening").length;

  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child?.once("exit", r));
      child.kill("SIGKILL");
      await gone;
    }
    await netns.destroy();
    if (removeBase) rmSync(base, { recursive: true, force: true });
    live.delete(netns.name);
  };

  try {
    child = spawn(
      "ip",
      [
        "netns",
        "exec",
        netns.name,
        "setpriv",
        "--pdeathsig",
        "KILL",
        "unshare",
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "sh",
        "-c",
        STAGE1,
        "sh",
        removeBase ? "tmpfs" : "disk",
        base,
        STAGE2,
        STAGE3,
        "/usr/sbin/sshd",
        "-D",
        "-e",
        "-p",
        String(port),
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const outer = child.pid;
    if (outer === undefined) throw new ProxstackError("testhost.start-failed", "could not start the test host process", { kind: "retry" });
    record.pid = outer;
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    child.once("exit", (code, signal) => {
      exited = `exit ${code ?? signal}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`;
    });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child?.stdout?.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.includes("ready\n")) resolve();
      });
      child?.once("exit", () => reject(new ProxstackError("testhost.setup-failed", `test host setup failed: ${exited ?? ""}`, { kind: "retry" })));
    });

    // The machine's PID of stage 3 (which becomes sshd): the child of stage 2, itself the child of the outer process.
    const pid = childOf(childOf(outer));
    // As the host's own root: its user, PID, mount, network and UTS namespaces.
    const exec: SshTestHost["exec"] = (cmd, args, o) => run("nsenter", ["-t", String(pid), "-U", "-p", "-m", "-n", "-u", "--", cmd, ...args], o);
    const writeFile: SshTestHost["writeFile"] = async (path, content, mode = "0644") => {
      // Node's stdin pipe is a socket, which `install /dev/stdin` cannot open; cat reads it fine.
      await exec("sh", ["-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', "sh", path, mode], { input: content });
    };

    await exec("mkdir", ["-p", "-m", "0755", "/run/sshd"]);
    if (opts.hostname !== undefined) {
      await run("nsenter", ["-t", String(pid), "-u", "--", "hostname", "--", opts.hostname]);
      // As Proxmox does for a container: the name resolves locally, so sudo does not wait on DNS.
      const hosts = (await exec("cat", ["/etc/hosts"])).stdout;
      const line = `127.0.1.1 ${opts.hostname}`;
      if (!hosts.split("\n").includes(line)) await writeFile("/etc/hosts", `${hosts.replace(/\n?$/, "\n")}${line}\n`);
    }
    await exec("install", ["-d", "-m", "0700", "/root/.ssh"]);
    await writeFile("/root/.ssh/authorized_keys", opts.rootAuthorizedKeys.map((k) => k.trim() + "\n").join(""), "0600");
    // First start only: a persisted host keeps its host key, users and sshd configuration.
    const fresh = (await exec("sh", ["-c", "test -e /etc/ssh/.pxs-testhost || echo fresh"])).stdout.trim() === "fresh";
    if (fresh) {
      await exec("sh", ["-c", "rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub /etc/ssh/sshd_config.d/*"]);
      await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "/etc/ssh/ssh_host_ed25519_key"]);
      for (const [name, content] of Object.entries(opts.sshdDropIns ?? { "50-legacy-insecure.conf": LEGACY_INSECURE_DROPIN })) {
        await writeFile(`/etc/ssh/sshd_config.d/${name}`, content);
      }
      for (const u of opts.users ?? []) {
        await exec("useradd", ["--create-home", "--shell", "/bin/sh", "--", u.name]);
      }
      const passwords = [...(opts.users ?? []), ...(opts.rootPassword ? [{ name: "root", password: opts.rootPassword }] : [])];
      if (passwords.length > 0) await exec("chpasswd", [], { input: passwords.map((u) => `${u.name}:${u.password}\n`).join("") });
      await exec("touch", ["/etc/ssh/.pxs-testhost"]);
    }

    child.stdin?.write("go\n");
    await waitForPort(netns.address, port, 15_000, () => exited);

    return {
      address: netns.address,
      port,
      netns,
      sshdPid: pid,
      exec,
      readFile: async (path) => (await exec("cat", ["--", path])).stdout,
      writeFile,
      async regenerateHostKey() {
        await exec("rm", ["-f", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub"]);
        await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "/etc/ssh/ssh_host_ed25519_key"]);
        // SIGHUP makes sshd re-exec itself, which reloads its host keys; wait until it says it listens again.
        const before = listening();
        process.kill(pid, "SIGHUP");
        const deadline = Date.now() + 15_000;
        while (listening() <= before) {
          if (exited !== undefined || Date.now() > deadline)
            throw new ProxstackError("testhost.sshd-restart", `sshd did not restart: ${exited ?? "timeout"}`, { kind: "retry" });
          await new Promise((r) => setTimeout(r, 50));
        }
        await waitForPort(netns.address, port, 15_000, () => exited);
      },
      log: () => stderr,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
