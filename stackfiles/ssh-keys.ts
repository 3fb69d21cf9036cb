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
