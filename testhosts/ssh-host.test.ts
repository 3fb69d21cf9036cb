import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// ssh2 is CommonJS and Node cannot see `utils` as a named export; take it from the default export.
import ssh2 from "ssh2";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { skipUnless } from "../test/loud-skip.js";
import { hashTree } from "./host-files.js";
import { hardenHost, TEMPLATE_TOOLS } from "../hooks/ssh-harden.js";
import { systemClock } from "../lib/clock.js";
import { createHostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity } from "../ssh/provisioning-key.js";
import { canRunSshTestHosts, createSshTestHost, TEST_HOST_TOOLS, type SshTestHost } from "./ssh-host.js";
import { tryLogin } from "./ssh-login.js";

const { utils } = ssh2;

const skip = skipUnless(await canRunSshTestHosts(), "ssh test host tests");

const sh = (args: string[]) => new Promise<string>((res) => execFile(args[0]!, args.slice(1), (_e, out) => res(out)));

describe.skipIf(skip)("ssh test hosts (real sshd in namespaces)", () => {
  const hosts: SshTestHost[] = [];
  const before = skip ? "" : hashTree(["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/ssh", "/root/.ssh", "/home"]);
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.destroy();
  });
  afterAll(() => {
    expect(hashTree(["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/ssh", "/root/.ssh", "/home"])).toBe(before);
  });

  it("runs sshd reachable by root with its key and by a user with a password, then leaves nothing behind", async () => {
    const key = utils.generateKeyPairSync("ed25519");
    const h = await createSshTestHost({ rootAuthorizedKeys: [key.public], users: [{ name: "carol", password: "pw-carol-1" }], rootPassword: "pw-root-1" });
    hosts.push(h);
    const asRoot = await tryLogin({
      host: h.address,
      port: h.port,
      username: "root",
      privateKey: key.private,
      command: "id -un; cat /etc/hostname >/dev/null; getent passwd carol",
    });
    expect(asRoot).toMatchObject({ ok: true });
    if (asRoot.ok) expect(asRoot.stdout).toMatch(/^root\ncarol:x:/);
    expect(await tryLogin({ host: h.address, port: h.port, username: "carol", password: "pw-carol-1" })).toMatchObject({ ok: true });
    expect(await tryLogin({ host: h.address, port: h.port, username: "carol", password: "wrong" })).toMatchObject({ ok: false });
    // The user exists only inside the host.
    expect(await sh(["getent", "passwd", "carol"])).toBe("");

    const pid = h.sshdPid;
    await h.destroy();
    expect(await sh(["ip", "netns", "list"])).not.toContain(h.netns.name);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it("keeps a tenant with sudo inside: own PIDs, no nsenter into the machine, a read-only machine, no disks, no machine sockets", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pxs-isolation-"));
    const hostKeys = createHostKeyStore(":memory:", systemClock);
    try {
      const identity = await loadProvisioningIdentity(dir);
      const tenant = ssh2.utils.generateKeyPairSync("ed25519");
      const h = await createSshTestHost({ rootAuthorizedKeys: [identity.publicKey] });
      hosts.push(h);
      await hardenHost({ host: h.address, port: h.port, user: "alice", keys: [tenant.public], identity, hostKeys, readyTimeoutMs: 5000 });
      const as = async (command: string) => {
        const r = await tryLogin({
          host: h.address,
          port: h.port,
          username: "alice",
          privateKey: tenant.private,
          command: `sudo -n sh -c '${command}' 2>&1; echo "exit $?"`,
        });
        if (!r.ok) throw new Error(`login failed: ${JSON.stringify(r)}`);
        return r.stdout;
      };
      // Root inside, by sudo; yet only the host's own processes exist, and PID 1 is its own.
      expect(await as("id -u")).toBe("0\nexit 0\n");
      const pids = (await as('ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "')).split("\n")[0]!.trim().split(" ").map(Number);
      expect(pids).not.toContain(process.pid);
      expect(pids.length).toBeLessThan(30);
      expect(await as('tr "\\0" " " < /proc/1/cmdline')).toMatch(/^sh -c /);
      expect(await as("nsenter -t 1 -m -u -n -p -- true")).toMatch(/^nsenter: .*(Permission denied|Operation not permitted)\nexit 1\n$/);
      expect(await as("touch /usr/pxs-escape")).toMatch(/Read-only file system\nexit 1\n$/);
      expect(await as("cat /proc/sys/vm/overcommit_ratio > /proc/sys/vm/overcommit_ratio")).toMatch(/Read-only file system\nexit [12]\n$/);
      expect(await as("mount -o remount,rw /usr")).toMatch(/exit (1|32)\n$/);
      expect(await as('ls /dev | tr "\\n" " "')).toBe("full null ptmx pts random shm tty urandom zero exit 0\n");
      // The machine's /run (the VPN's WireGuard control sockets) and /tmp (test data dirs, keys) are not the host's.
      expect(await as("test -e /run/wireguard && echo present || echo absent")).toBe("absent\nexit 0\n");
      expect(await as(`test -e ${dir} && echo present || echo absent`)).toBe("absent\nexit 0\n");
    } finally {
      hostKeys.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("can change its host key like a re-created container", async () => {
    const key = utils.generateKeyPairSync("ed25519");
    const h = await createSshTestHost({ rootAuthorizedKeys: [key.public] });
    hosts.push(h);
    const first = await h.readFile("/etc/ssh/ssh_host_ed25519_key.pub");
    await h.regenerateHostKey();
    const second = await h.readFile("/etc/ssh/ssh_host_ed25519_key.pub");
    expect(second).not.toBe(first);
    expect(await tryLogin({ host: h.address, port: h.port, username: "root", privateKey: key.private })).toMatchObject({ ok: true });
  });
});

describe("test host preflight", () => {
  it("names every tool the ssh-harden hook asks a template for", () => {
    const listed = new Set(TEST_HOST_TOOLS.map(([bin]) => bin));
    expect(TEMPLATE_TOOLS.filter((t) => !listed.has(t))).toEqual([]);
  });

  it("asks scripts/setup.sh --test for every package it names", () => {
    const setup = readFileSync(new URL("../scripts/setup.sh", import.meta.url), "utf8");
    const installed = new Set(setup.split("\n").flatMap((l) => /pkgs(\+)?=\((.*)\)/.exec(l)?.[2]?.split(/\s+/) ?? []));
    expect([...new Set(TEST_HOST_TOOLS.map(([, pkg]) => pkg))].filter((p) => !installed.has(p))).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)("says which binaries are missing and which Debian packages bring them", async () => {
    const absent = new Set(["sudo", "visudo", "/usr/sbin/sshd"]);
    expect(await canRunSshTestHosts(async (bin) => !absent.has(bin))).toEqual({
      ok: false,
      why: "/usr/sbin/sshd, sudo, visudo missing: apt-get install openssh-server sudo (or bash scripts/setup.sh --test)",
    });
  });
});
