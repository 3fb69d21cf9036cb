// Decoding SSH public keys for real (ssh2), so a key that only looks right is refused before a hook uses it.
import ssh2 from "ssh2";

/** RSA keys shorter than this are refused (OpenSSH's own minimum for new keys). */
export const MIN_RSA_BITS = 2048;

/**
 * Why an authorized_keys line cannot be used, or undefined when it is a usable public key.
 * The line's shape (type, base64, comment) is already checked by the schema.
 */
export function sshKeyProblem(line: string): string | undefined {
  const [type, body] = line.split(" ");
  return isPlainEd25519(type, body) ? undefined : sshKeyProblemDecoded(line);
}

/** {@link sshKeyProblem} always through ssh2 (the reference the shortcut is tested against). */
export function sshKeyProblemDecoded(line: string): string | undefined {
  const [type, body] = line.split(" ");
  const parsed = ssh2.utils.parseKey(line);
  if (parsed instanceof Error) return `does not decode as an SSH public key (${parsed.message}); paste the whole line of your .pub file`;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) return "does not decode as an SSH public key; paste the whole line of your .pub file";
  if (key.isPrivateKey()) return "is a private key; remove it at once and paste the public key (.pub) instead";
  if (key.type !== type) return `says ${String(type)} but its body is a ${key.type} key; paste the line unchanged`;
  const blob = key.getPublicSSH();
  if (body !== undefined && Buffer.from(body, "base64").compare(blob) !== 0) {
    return "has trailing bytes after the key; paste the line of your .pub file unchanged";
  }
  if (type === "ssh-rsa") {
    const bits = rsaBits(blob);
    if (bits < MIN_RSA_BITS) return `is an RSA key of ${bits} bits; RSA keys need at least ${MIN_RSA_BITS} bits (or use ssh-ed25519)`;
  }
  return undefined;
}

/** The blob every ssh-ed25519 public key starts with: string "ssh-ed25519", then the length 32. */
const ED25519_PREFIX = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32])]);

/**
 * True for an ssh-ed25519 body that is exactly the prefix and 32 key bytes, canonically base64
 * encoded: the case ssh2 accepts without further checks (an Ed25519 public key is any 32 bytes),
 * decided here without its PEM round trip, which was a third of validating a large set. Anything
 * else goes to ssh2, whose verdicts and messages stay the reference (ssh-keys.test.ts checks parity).
 */
export function isPlainEd25519(type: string | undefined, body: string | undefined): boolean {
  if (type !== "ssh-ed25519" || body === undefined || body.length !== 68) return false;
  const blob = Buffer.from(body, "base64");
  return blob.length === ED25519_PREFIX.length + 32 && blob.subarray(0, ED25519_PREFIX.length).equals(ED25519_PREFIX) && blob.toString("base64") === body;
}

/** Modulus size of an ssh-rsa public blob: string type, mpint e, mpint n. */
function rsaBits(blob: Buffer): number {
  let off = 0;
  const next = (): Buffer => {
    const len = blob.readUInt32BE(off);
    const part = blob.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return part;
  };
  next();
  next();
  const n = next();
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  const top = n[i] ?? 0;
  return (n.length - i - 1) * 8 + (top === 0 ? 0 : Math.floor(Math.log2(top)) + 1);
}
