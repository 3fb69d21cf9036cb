import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadProvisioningIdentity } from "../ssh/provisioning-key.js";
import { skipUnless } from "../test/loud-skip.js";
import { canRunSshTestHosts, createSshTestHost, type SshTestHost } from "../testhosts/ssh-host.js";
import { tryLogin } from "../testhosts/ssh-login.js";
import { main } from "./proxstack.js";

const { utils } = ssh2;

let dir = "";
const user = utils.generateKeyPairSync("ed25519", { comment: "alice@laptop" });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pxs-hookcli-"));
  await writeFile(join(dir, "keys.txt"), `# alice's keys\n\n${user.public}\n`);
  await writeFile(join(dir, "bad-keys.txt"), `${user.public}\nssh-dss AAAAB3NzaC1kc3MAAACBAP1 old\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { PROXSTACK_DATA_DIR: join(dir, "data") },
    cwd: dir,
  });
  return { code, stdout, stderr };
}

describe("proxstack hook", () => {
  it.each([
    [[], /name the hook to run: ssh-harden/],
    [["vpn-peer"], /unknown hook 'vpn-peer'/],
    [["ssh-harden", "--user", "alice", "--keys", "keys.txt"], /--host is required/],
    [["ssh-harden", "--host", "10.0.0.1", "--keys", "keys.txt"], /--user is required/],
    [["ssh-harden", "--host", "10.0.0.1", "--user", "alice"], /--keys is required/],
    [["ssh-harden", "--host", "10.0.0.1;id", "--user", "alice", "--keys", "keys.txt"], /--host must be an address or a host name/],
    [["ssh-harden", "--host", "10.0.0.1", "--port", "99999", "--user", "alice", "--keys", "keys.txt"], /--port must be a whole number from 1 to 65535/],
    [["ssh-harden", "--host", "10.0.0.1", "--user", "alice", "--keys", "missing.txt"], /--keys: no such file: missing.txt/],
    [["ssh-harden", "--host", "10.0.0.1", "--user", "alice", "--keys", "keys.txt", "--bogus"], /bogus/],
  ])("exits 2 on usage error %j", async (argv, message) => {
    const r = await cli("hook", ...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("exits 1 naming the file and line of a bad key, and on a bad user, before connecting", async () => {
    const r = await cli("hook", "ssh-harden", "--host", "127.0.0.1", "--port", "9", "--user", "alice", "--keys", "bad-keys.txt");
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr).toMatch(/hook-bad-input: bad-keys.txt:2: key type "ssh-dss" is not supported/);
    const u = await cli("hook", "ssh-harden", "--host", "127.0.0.1", "--port", "9", "--user", "a;b", "--keys", "keys.txt");
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/linux user "a;b" is not a valid name/);
  });

  it("prints its help through the real bin (loads under plain Node ESM)", async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((res) => {
      const c = execFile("node", ["bin/proxstack.js", "hook", "--help"], { cwd: join(import.meta.dirname, "..") }, (err, stdout) =>
        res({ code: err ? (err.code as number) : 0, stdout }),
      );
      void c;
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/Usage: proxstack hook ssh-harden --host H/);
  });
});

const skip = skipUnless(await canRunSshTestHosts(), "proxstack hook against real sshd");

describe.skipIf(skip)("proxstack hook ssh-harden against a test host", () => {
  let host: SshTestHost | undefined;
  afterEach(async () => {
    await host?.destroy();
  });
  it("hardens, reports no changes the second time, and exits 1 with the reason when the host key changes", async () => {
    const identity = await loadProvisioningIdentity(join(dir, "data"));
    host = await createSshTestHost({ rootAuthorizedKeys: [identity.publicKey] });
    const args = ["hook", "ssh-harden", "--host", host.address, "--user", "alice", "--keys", "keys.txt"];
    const first = await cli(...args);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^${host.address}:22: changed\\n  - created user alice\\n`));
    expect(await tryLogin({ host: host.address, port: 22, username: "alice", privateKey: user.private })).toMatchObject({ ok: true });
    const second = await cli(...args);
    expect(second).toMatchObject({ code: 0 });
    expect(second.stdout).toMatch(/: no changes\n  verified key login as alice/);
    await host.regenerateHostKey();
    const third = await cli(...args);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/ssh-host-key-changed: .*host key changed/);
  });
});
