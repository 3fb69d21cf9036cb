import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
// ssh2 is CommonJS and Node cannot see `utils` as a named export; take it from the default export.
import ssh2 from "ssh2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";
import { silentLogger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { generateSshKeyPair } from "../ssh/keygen.js";
import { skipUnless } from "../test/loud-skip.js";
import { hashTree } from "../testhosts/host-files.js";
import { canRunSshTestHosts, createSshTestHost, type SshTestHost, type SshTestHostOptions } from "../testhosts/ssh-host.js";
import { tryLogin } from "../testhosts/ssh-login.js";
import type { HookContext } from "./hook.js";
import { createHostKeyStore, hostId, type HostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity, type SshIdentity } from "../ssh/provisioning-key.js";
import { createHookRegistry } from "./registry.js";
import { createHookRunner } from "./runner.js";
import { createSshHardenHandler, hardenHost, SSHD_DROPIN, SSHD_DROPIN_CONTENT } from "./ssh-harden.js";

const { utils } = ssh2;

const HOST_PATHS = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/ssh", "/etc/sudoers.d", "/root/.ssh", "/home"];

let dataDir = "";
let identity: SshIdentity;
let hostKeys: HostKeyStore;
const laptop = generateSshKeyPair("ed25519", { comment: "alice@laptop" });
const desktop = utils.generateKeyPairSync("ecdsa", { bits: 256, comment: "alice@desktop" });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "pxs-harden-"));
  identity = await loadProvisioningIdentity(dataDir);
  hostKeys = createHostKeyStore(join(dataDir, "host-keys.db"), systemClock);
});
afterAll(async () => {
  hostKeys.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: string, reason: RegExp): Promise<ProxstackError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected a failure").toBeInstanceOf(ProxstackError);
  const pe = err as ProxstackError;
  expect(pe.code).toBe(code);
  expect(pe.message).toMatch(reason);
  return pe;
}

describe("ssh-harden input checks (no connection is made)", () => {
  const target = (user: string, keys: string[]) => ({ host: "127.0.0.1", port: 9, user, keys, identity, hostKeys, readyTimeoutMs: 1000 });
  it.each([
    ["alice;reboot", /linux user "alice;reboot" is not a valid name/],
    ["$(touch /tmp/pwned)", /is not a valid name/],
    ["alice\nroot", /is not a valid name/],
    ["al'ice", /is not a valid name/],
    ["-oops", /is not a valid name/],
    ["root", /reserved system account/],
  ])("refuses the user name %j", async (user, reason) => {
    await expectCode(hardenHost(target(user, [laptop.public])), "hook-bad-input", reason);
  });

  const body = laptop.public.split(" ")[1];
  it.each([
    [`ssh-ed25519 ${body} x; rm -rf /`, /comment "x; rm -rf \/" contains characters that are not allowed/],
    [`ssh-ed25519 ${body} $(id)`, /contains characters that are not allowed/],
    [`ssh-ed25519 ${body} "quoted"`, /contains characters that are not allowed/],
    [`ssh-ed25519 ${body} a\nssh-ed25519 ${body} b`, /contains a line break/],
    [`command="/bin/sh" ssh-ed25519 ${body}`, /key type "command=\\"\/bin\/sh\\"" is not supported/],
    ["ssh-dss AAAAB3NzaC1kc3MAAACBAP1 old", /key type "ssh-dss" is not supported; use one of ssh-ed25519/],
    ["sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEX= yubikey", /key type "sk-ssh-ed25519@openssh.com" is not supported/],
    [`ssh-rsa ${body} mislabelled`, /not a valid ssh-rsa key/],
    [utils.generateKeyPairSync("rsa", { bits: 1024 }).public, /RSA key of 1024 bits is too weak/],
  ])("refuses the key %j", async (key, reason) => {
    await expectCode(hardenHost(target("alice", [laptop.public, key])), "hook-bad-input", reason);
    // Refused before connecting: nothing was even pinned for the address.
    expect(hostKeys.forget(hostId("127.0.0.1", 9))).toBe(false);
  });
});

describe("ssh-harden against a host that never answers", () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((r) => server?.close(r));
  });
  it("times out with a clear reason", async () => {
    // Accepts TCP but never sends the SSH banner: a container whose sshd hangs.
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const err = await expectCode(
      hardenHost({ host: "127.0.0.1", port, user: "alice", keys: [laptop.public], identity, hostKeys, readyTimeoutMs: 800 }),
      "ssh-timeout",
      new RegExp(`127\\.0\\.0\\.1:${port}: no SSH answer within 1s`),
    );
    expect(err.kind).toBe("retry");
  });
});

const skip = skipUnless(await canRunSshTestHosts(), "ssh-harden tests against real sshd");

describe.skipIf(skip)("ssh-harden against real OpenSSH in test hosts", () => {
  const hosts: SshTestHost[] = [];
  const before = skip ? "" : hashTree(HOST_PATHS);
  const start = async (o: Partial<SshTestHostOptions> = {}) => {
    const h = await createSshTestHost({
      rootAuthorizedKeys: [identity.publicKey],
      users: [{ name: "alice", password: "alice-pw-1" }],
      rootPassword: "root-pw-1",
      ...o,
    });
    hosts.push(h);
    return h;
  };
  const harden = (h: SshTestHost, keys: string[], user = "alice") =>
    hardenHost({ host: h.address, port: h.port, user, keys, identity, hostKeys, readyTimeoutMs: 5000 });
  const snapshot = async (h: SshTestHost) =>
    (
      await h.exec("sh", [
        "-c",
        "cat /etc/passwd /etc/group /etc/shadow; ls -lanR /home /etc/ssh /etc/sudoers.d; cat /etc/ssh/sshd_config.d/* /home/*/.ssh/* 2>/dev/null || true",
      ])
    ).stdout;

  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.destroy();
  });
  afterAll(() => {
    // The machine's own accounts and sshd configuration never change.
    expect(hashTree(HOST_PATHS)).toBe(before);
  });

  it("makes a legacy password host key-only, converges on a second run, and removes a dropped key", async () => {
    const h = await start();
    const at = { host: h.address, port: h.port };
    // Precondition: the legacy host really accepts passwords, so the checks below test sshd.
    expect(await tryLogin({ ...at, username: "alice", password: "alice-pw-1" })).toMatchObject({ ok: true });
    expect(await tryLogin({ ...at, username: "root", password: "root-pw-1" })).toMatchObject({ ok: true });

    const first = await harden(h, [laptop.public, desktop.public]);
    expect(first.changed).toBe(true);
    expect(first.actions).toEqual(expect.arrayContaining(["added alice to sudo", "granted alice sudo", "installed the sshd key-only drop-in"]));
    expect(first.verified).toMatch(/verified key login as alice/);

    expect(await tryLogin({ ...at, username: "alice", password: "alice-pw-1" })).toMatchObject({ ok: false, methodsOffered: ["publickey"] });
    expect(await tryLogin({ ...at, username: "root", password: "root-pw-1" })).toMatchObject({ ok: false });
    const asAlice = await tryLogin({ ...at, username: "alice", privateKey: laptop.private, command: "id -un; sudo -n id -u" });
    expect(asAlice).toMatchObject({ ok: true, stdout: "alice\n0\n" });
    expect(await tryLogin({ ...at, username: "alice", privateKey: desktop.private })).toMatchObject({ ok: true });
    expect(await tryLogin({ ...at, username: "root", privateKey: identity.privateKey })).toMatchObject({ ok: true });

    const eff = (await h.exec("/usr/sbin/sshd", ["-T"])).stdout;
    expect(eff).toMatch(/^passwordauthentication no$/m);
    expect(eff).toMatch(/^kbdinteractiveauthentication no$/m);
    expect(eff).toMatch(/^permitrootlogin without-password$/m);
    expect(await h.readFile(SSHD_DROPIN)).toBe(SSHD_DROPIN_CONTENT);
    const ak = await h.readFile("/home/alice/.ssh/authorized_keys");
    expect(ak).toContain(laptop.public.trim());
    expect(ak).toContain(desktop.public.trim());
    expect(ak).toContain(identity.publicKey.split(" ").slice(0, 2).join(" "));
    expect((await h.exec("stat", ["-c", "%U %a", "/home/alice/.ssh", "/home/alice/.ssh/authorized_keys"])).stdout).toBe("alice 700\nalice 600\n");

    const snap = await snapshot(h);
    const second = await harden(h, [laptop.public, desktop.public]);
    expect(second).toMatchObject({ changed: false, actions: [] });
    expect(await snapshot(h)).toBe(snap);

    const third = await harden(h, [laptop.public]);
    expect(third.changed).toBe(true);
    expect(third.actions).toEqual(["updated authorized_keys (+0 −1, 2 keys)"]);
    expect(await h.readFile("/home/alice/.ssh/authorized_keys")).not.toContain(desktop.public.split(" ")[1]);
    expect(await tryLogin({ ...at, username: "alice", privateKey: desktop.private })).toMatchObject({ ok: false });
    expect(await tryLogin({ ...at, username: "alice", privateKey: laptop.private })).toMatchObject({ ok: true });
  });

  it("creates a missing user with a home, key-only and sudo", async () => {
    const h = await start({ users: [] });
    const r = await harden(h, [laptop.public], "bob");
    expect(r.actions).toEqual(expect.arrayContaining(["created user bob", "wrote authorized_keys (2 keys)"]));
    expect((await h.exec("getent", ["passwd", "bob"])).stdout).toMatch(/^bob:x:\d+:\d+::\/home\/bob:\/bin\/bash$/m);
    expect(await tryLogin({ host: h.address, port: h.port, username: "bob", privateKey: laptop.private, command: "sudo -n id -un" })).toMatchObject({
      ok: true,
      stdout: "root\n",
    });
  });

  it("runs from the hook runner after an apply and records the outcome per instance", async () => {
    const h = await start();
    const runner = createHookRunner({
      handlers: createHookRegistry([createSshHardenHandler({ identity, hostKeys, readyTimeoutMs: 5000 })]),
      log: silentLogger(),
    });
    const ctx = (linuxUser: string): HookContext => ({
      stack: "alice",
      spec: { linuxUser, sshKeys: [laptop.public] } as unknown as UserStackSpec,
      platform: {} as PlatformSpec,
      instances: [
        { name: "web", vmid: 2001, ip: h.address, power: "running", changed: true },
        { name: "dev", vmid: 2002, ip: "10.255.255.1", power: "stopped", changed: false },
      ],
      signal: new AbortController().signal,
      log: silentLogger(),
    });
    const [ok] = await runner.run(ctx("alice"), [{ type: "ssh-harden", params: {} }]);
    expect(ok).toMatchObject({ status: "succeeded", changed: true });
    expect(ok?.output).toMatch(new RegExp(`^web \\(${h.address.replace(/\./g, "\\.")}\\): .*installed the sshd key-only drop-in.*verified key login as alice`));
    const [again] = await runner.run(ctx("alice"), [{ type: "ssh-harden", params: { port: 22 } }]);
    expect(again).toMatchObject({ status: "succeeded", changed: false });

    const snap = await snapshot(h);
    const [bad] = await runner.run(ctx("alice$(reboot)"), [{ type: "ssh-harden", params: {} }]);
    expect(bad).toMatchObject({ status: "failed", error: { code: "hook-bad-input", kind: "stall" } });
    expect(bad?.error?.reason).toMatch(/linux user "alice\$\(reboot\)" is not a valid name/);
    expect(await snapshot(h)).toBe(snap);
  });

  it("refuses a changed host key and changes nothing", async () => {
    const h = await start();
    await harden(h, [laptop.public]);
    await h.regenerateHostKey();
    const snap = await snapshot(h);
    const err = await expectCode(harden(h, [desktop.public]), "ssh-host-key-changed", /host key changed: it presented SHA256:\S+ but SHA256:\S+ was pinned/);
    expect(err.kind).toBe("stall");
    expect(await snapshot(h)).toBe(snap);
    // After an operator forgets the pin (a deliberately re-created container), it converges again.
    expect(hostKeys.forget(hostId(h.address, h.port))).toBe(true);
    expect((await harden(h, [desktop.public])).changed).toBe(true);
  });

  it("pins host keys per container: another VMID at a hardened address is a first contact, the same VMID with a new key is refused", async () => {
    const h = await start();
    const handler = createSshHardenHandler({ identity, hostKeys, readyTimeoutMs: 5000 });
    const ctx = (vmid: number): HookContext => ({
      stack: "alice",
      spec: { linuxUser: "alice", sshKeys: [laptop.public] } as unknown as UserStackSpec,
      platform: {} as PlatformSpec,
      instances: [{ name: "web", vmid, ip: h.address, power: "running", changed: true }],
      signal: new AbortController().signal,
      log: silentLogger(),
    });
    expect((await handler.run(ctx(3001), { port: h.port, onlyChanged: false })).changed).toBe(true);
    // The container is re-created at the same address (a new host key) as another VMID.
    await h.regenerateHostKey();
    await expect(handler.run(ctx(3001), { port: h.port, onlyChanged: false })).rejects.toMatchObject({ code: "ssh-host-key-changed", kind: "stall" });
    const again = await handler.run(ctx(3002), { port: h.port, onlyChanged: false });
    expect(again).toMatchObject({ changed: false });
    expect(again.output).toMatch(/no changes; verified key login as alice/);
  });

  it("replaces a 3G sparse authorized_keys without reading it", async () => {
    const h = await start();
    await harden(h, [laptop.public]);
    // What a user can do to their own file; reading it would allocate 3 GiB in the engine.
    await h.exec("truncate", ["-s", "3G", "/home/alice/.ssh/authorized_keys"]);
    const r = await harden(h, [laptop.public]);
    expect(r.actions).toEqual(["replaced an oversized authorized_keys (3221225472 bytes, not read) (2 keys)"]);
    expect((await h.exec("stat", ["-c", "%s %U %a", "/home/alice/.ssh/authorized_keys"])).stdout).toMatch(/^\d{2,4} alice 600\n$/);
    expect(await tryLogin({ host: h.address, port: h.port, username: "alice", privateKey: laptop.private })).toMatchObject({ ok: true });
  });

  it("keeps the previous working sshd config when sshd -t fails", async () => {
    const h = await start();
    const at = { host: h.address, port: h.port };
    // A broken drop-in added after sshd started: the running daemon is fine, `sshd -t` is not.
    await h.writeFile("/etc/ssh/sshd_config.d/99-broken.conf", "ThisIsNotAnSshdOption yes\n");
    await expectCode(
      harden(h, [laptop.public]),
      "sshd-config-invalid",
      /sshd -t rejected the configuration, so the previous one stays in place: .*ThisIsNotAnSshdOption/,
    );
    expect((await h.exec("ls", ["/etc/ssh/sshd_config.d"])).stdout).toBe("50-legacy-insecure.conf\n99-broken.conf\n");
    // sshd was not reloaded into a broken state: it still serves with its old settings.
    expect(await tryLogin({ ...at, username: "alice", password: "alice-pw-1" })).toMatchObject({ ok: true });

    await h.exec("rm", ["/etc/ssh/sshd_config.d/99-broken.conf"]);
    await harden(h, [laptop.public]);
    const working = SSHD_DROPIN_CONTENT + "# an operator's note\n";
    await h.writeFile(SSHD_DROPIN, working);
    await h.writeFile("/etc/ssh/sshd_config.d/99-broken.conf", "ThisIsNotAnSshdOption yes\n");
    await expectCode(harden(h, [laptop.public]), "sshd-config-invalid", /ThisIsNotAnSshdOption/);
    expect(await h.readFile(SSHD_DROPIN)).toBe(working);
    expect(await tryLogin({ ...at, username: "alice", privateKey: laptop.private })).toMatchObject({ ok: true });
  });

  it("refuses to report success when an earlier drop-in overrides it", async () => {
    const h = await start({ sshdDropIns: { "00-aaa-cloud.conf": "PasswordAuthentication yes\n" } });
    await expectCode(harden(h, [laptop.public]), "sshd-config-overridden", /passwordauthentication is yes/);
    expect((await h.exec("ls", ["/etc/ssh/sshd_config.d"])).stdout).toBe("00-aaa-cloud.conf\n");
  });
});
