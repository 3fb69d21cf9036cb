import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../lib/clock.js";
import { createHostKeyStore, type HostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity, type SshIdentity } from "../ssh/provisioning-key.js";
import { hardenHost } from "../hooks/ssh-harden.js";
import { skipUnless } from "../test/loud-skip.js";
import { createSshHostBacking, type SshHostBacking } from "./backing.js";
import { canRunSshTestHosts } from "./ssh-host.js";
import { tryLogin } from "./ssh-login.js";

const netnsList = () => new Promise<string>((res) => execFile("ip", ["netns", "list"], (_e, out) => res(out)));

const skip = skipUnless(await canRunSshTestHosts(), "container backing tests");

describe.skipIf(skip)("ssh test hosts as the simulator's container backing", () => {
  let dir = "";
  let identity: SshIdentity;
  let hostKeys: HostKeyStore;
  let backing: SshHostBacking;
  // Neighbouring addresses, as a platform pool hands them out; a per-process /24 avoids clashes between test files.
  const net = `10.249.${process.pid % 250}`;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pxs-backing-"));
    identity = await loadProvisioningIdentity(join(dir, "data"));
    hostKeys = createHostKeyStore(join(dir, "data", "host-keys.db"), systemClock);
    backing = createSshHostBacking({ rootAuthorizedKeys: [identity.publicKey], stateDir: join(dir, "containers") });
  });
  afterAll(async () => {
    await backing?.close();
    hostKeys?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("starts neighbouring containers, keeps a stopped container's disk and host key, and destroys it", async () => {
    await Promise.all([
      backing.start({ vmid: 2001, ip: `${net}.21`, hostname: "alice-web" }),
      backing.start({ vmid: 2002, ip: `${net}.22`, hostname: "alice-dev" }),
    ]);
    expect((await backing.host(2001)!.exec("hostname", [])).stdout.trim()).toBe("alice-web");
    const first = await hardenHost({ host: `${net}.21`, port: 22, user: "alice", keys: [identity.publicKey], identity, hostKeys });
    expect(first.changed).toBe(true);
    expect(await tryLogin({ host: `${net}.22`, port: 22, username: "root", privateKey: identity.privateKey, command: "hostname" })).toMatchObject({
      ok: true,
      stdout: "alice-dev\n",
    });

    const stopped = backing.host(2001)!.netns.name;
    await backing.stop(2001);
    expect(backing.host(2001)).toBeUndefined();
    // No login attempt here: without the namespace the address would route off this machine.
    expect(await netnsList()).not.toContain(stopped);
    await backing.start({ vmid: 2001, ip: `${net}.21`, hostname: "alice-web" });
    // Same disk, same host key (the pin accepts it), already converged.
    const again = await hardenHost({ host: `${net}.21`, port: 22, user: "alice", keys: [identity.publicKey], identity, hostKeys });
    expect(again.changed).toBe(false);

    await backing.destroy(2001);
    await expect(stat(join(dir, "containers", "2001"))).rejects.toThrow();
    await backing.destroy(2002);
  });
});
