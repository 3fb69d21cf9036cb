import { mkdtemp, readFile, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// ssh2 is CommonJS and Node cannot see `utils` as a named export; take it from the default export.
import ssh2 from "ssh2";
import { afterEach, describe, expect, it } from "vitest";
import { ensureProvisioningKey, loadProvisioningIdentity, provisioningKeyPaths, readIdentity } from "./provisioning-key.js";

const { utils } = ssh2;

const dirs: string[] = [];
async function dataDir() {
  const d = await mkdtemp(join(tmpdir(), "pxs-provkey-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("provisioning key", () => {
  it("generates an ed25519 pair once, private 0600 in a 0700 dir, .pub matching the private key", async () => {
    const d = await dataDir();
    const first = await ensureProvisioningKey(d);
    const paths = provisioningKeyPaths(d);
    expect(first.privateKeyPath).toBe(join(d, "keys", "provisioning_ed25519"));
    expect(first.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=* proxstack-provisioning$/);
    expect((await stat(paths.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(first.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await readFile(paths.publicKeyPath, "utf8")).trim()).toBe(first.publicKey);
    const parsed = utils.parseKey(await readFile(first.privateKeyPath));
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error("private key does not parse");
    expect(first.publicKey.split(" ")[1]).toBe(parsed.getPublicSSH().toString("base64"));

    const again = await ensureProvisioningKey(d);
    expect(again.publicKey).toBe(first.publicKey);
  });

  it("keeps one key when several starts race, and tightens loose permissions", async () => {
    const d = await dataDir();
    const keys = await Promise.all([1, 2, 3, 4].map(() => ensureProvisioningKey(d)));
    expect(new Set(keys.map((k) => k.publicKey)).size).toBe(1);
    await chmod(keys[0]!.privateKeyPath, 0o644);
    await writeFile(provisioningKeyPaths(d).publicKeyPath, "garbage\n");
    const again = await loadProvisioningIdentity(d);
    expect(again.publicKey).toBe(keys[0]!.publicKey);
    expect((await stat(keys[0]!.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await readFile(provisioningKeyPaths(d).publicKeyPath, "utf8")).trim()).toBe(again.publicKey);
  });

  it("refuses an identity file that is not a private key, naming the file", async () => {
    const d = await dataDir();
    const p = join(d, "id");
    await writeFile(p, "not a key");
    await expect(readIdentity(p)).rejects.toThrow(`${p} is not an unencrypted SSH private key`);
    await expect(readIdentity(join(d, "missing"))).rejects.toThrow(/cannot read private key/);
  });
});
