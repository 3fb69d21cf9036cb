// The platform's provisioning key pair: generated once into the data dir, private key 0600, never logged.
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
// ssh2 is CommonJS and Node cannot see `utils` as a named export; take it from the default export.
import ssh2 from "ssh2";
import { ProxstackError } from "../lib/errors.js";
import { generateSshKeyPair } from "./keygen.js";

const { utils } = ssh2;

/** Where the key pair lives under the data dir. */
export function provisioningKeyPaths(dataDir: string): { dir: string; privateKeyPath: string; publicKeyPath: string } {
  const dir = join(dataDir, "keys");
  const privateKeyPath = join(dir, "provisioning_ed25519");
  return { dir, privateKeyPath, publicKeyPath: `${privateKeyPath}.pub` };
}

const COMMENT = "proxstack-provisioning";

/**
 * Returns the provisioning key pair, generating an ed25519 pair on first start into
 * `<dataDir>/keys/provisioning_ed25519` (0600, directory 0700) and `.pub`.
 * Safe to call from several processes at once: the first to link its key wins, the others read it.
 */
export async function ensureProvisioningKey(dataDir: string): Promise<{ publicKey: string; privateKeyPath: string }> {
  const { dir, privateKeyPath, publicKeyPath } = provisioningKeyPaths(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (!(await exists(privateKeyPath))) {
    const pair = generateSshKeyPair("ed25519", { comment: COMMENT });
    const tmp = `${privateKeyPath}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, pair.private, { mode: 0o600, flag: "wx" });
    try {
      // link() fails when the name exists, so a concurrent first start cannot overwrite a key in use.
      await link(tmp, privateKeyPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }
  const st = await stat(privateKeyPath);
  if ((st.mode & 0o077) !== 0) await chmod(privateKeyPath, 0o600);
  const publicKey = publicKeyLine(await readFile(privateKeyPath, "utf8"), privateKeyPath);
  const onDisk = await readFile(publicKeyPath, "utf8").catch(() => undefined);
  if (onDisk?.trim() !== publicKey) await writeFile(publicKeyPath, publicKey + "\n", { mode: 0o644 });
  return { publicKey, privateKeyPath };
}

/** Reads the private key for an SSH client; the caller keeps it in memory only. */
export async function loadProvisioningIdentity(dataDir: string): Promise<SshIdentity> {
  const { privateKeyPath } = await ensureProvisioningKey(dataDir);
  return readIdentity(privateKeyPath);
}

/** A private key and the public key line it answers to. */
export interface SshIdentity {
  privateKey: Buffer;
  publicKey: string;
}

/** Reads an unencrypted OpenSSH/PEM private key file (e.g. `--identity`) and derives its public key line. */
export async function readIdentity(path: string): Promise<SshIdentity> {
  const privateKey = await readFile(path).catch((err: unknown) => {
    throw new ProxstackError("identity-unreadable", `cannot read private key ${path}`, { kind: "stall", cause: err });
  });
  return { privateKey, publicKey: publicKeyLine(privateKey.toString("utf8"), path) };
}

function publicKeyLine(privatePem: string, path: string): string {
  const parsed = utils.parseKey(privatePem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new ProxstackError("identity-invalid", `${path} is not an unencrypted SSH private key${key instanceof Error ? ` (${key.message})` : ""}`, {
      kind: "stall",
    });
  }
  return `${key.type} ${key.getPublicSSH().toString("base64")} ${COMMENT}`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
