// Checks of what the SSH hooks put into a container: the Linux user name and the public keys, before any connection.
import { createPublicKey } from "node:crypto";
// ssh2 is CommonJS and Node cannot see `utils` as a named export; take it from the default export.
import ssh2 from "ssh2";
import { ProxstackError } from "../lib/errors.js";
import { LINUX_USERNAME, RESERVED_USERNAMES, SSH_KEY_COMMENT_CHARS, SSH_KEY_TYPES } from "../schemas/index.js";

const { utils } = ssh2;

/** Smallest RSA modulus accepted; OpenSSH itself refuses RSA keys under 1024 bits, NIST retired 1024 long ago. */
export const MIN_RSA_BITS = 2048;

/** Characters allowed in a key's comment: enough for `alice@laptop (work)`, nothing a shell or sshd treats specially. */
const SAFE_COMMENT = new RegExp(`^[${SSH_KEY_COMMENT_CHARS}]*$`);

function bad(message: string): ProxstackError {
  return new ProxstackError("hook-bad-input", message, { kind: "stall" });
}

/** Returns the name when it is a safe, non-reserved Linux user name; otherwise a stall error saying why. */
export function checkLinuxUser(name: string): string {
  if (!LINUX_USERNAME.test(name)) {
    return throwIt(bad(`linux user ${JSON.stringify(name)} is not a valid name: start with a-z or '_', then a-z, 0-9, '_' or '-', at most 32 characters`));
  }
  if (RESERVED_USERNAMES.has(name)) return throwIt(bad(`linux user '${name}' is a reserved system account; choose another name`));
  return name;
}

/** A checked public key: its canonical line and the identity (type + base64 body) used to compare keys. */
export interface CheckedKey {
  line: string;
  id: string;
}

/**
 * Checks authorized keys one by one: one line each, a supported type whose body decodes to that
 * type, RSA of at least 2048 bits, a comment without shell or sshd metacharacters.
 * Duplicates (same type and body) are dropped. Errors name the key by position and say what to fix.
 */
export function checkPublicKeys(keys: readonly string[], label: string | ((index: number) => string) = "sshKeys"): CheckedKey[] {
  const out: CheckedKey[] = [];
  keys.forEach((raw, i) => {
    const where = typeof label === "string" ? `${label}[${i}]` : label(i);
    if (/[\r\n\0]/.test(raw)) throw bad(`${where} contains a line break or NUL; give exactly one key per entry`);
    const line = raw.trim();
    const [type = "", body = "", ...rest] = line.split(/ +/);
    const comment = rest.join(" ");
    if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
      throw bad(`${where}: key type ${JSON.stringify(type.slice(0, 40))} is not supported; use one of ${SSH_KEY_TYPES.join(", ")}`);
    }
    if (!/^[A-Za-z0-9+/]+={0,3}$/.test(body)) throw bad(`${where}: the key body is not base64`);
    if (!SAFE_COMMENT.test(comment)) {
      throw bad(
        `${where}: the comment ${JSON.stringify(comment.slice(0, 60))} contains characters that are not allowed (letters, digits, spaces and @ . _ + = : , / ( ) - only)`,
      );
    }
    const parsed = utils.parseKey(`${type} ${body}`);
    if (parsed instanceof Error || Array.isArray(parsed) || parsed.type !== type) {
      throw bad(`${where}: not a valid ${type} key${parsed instanceof Error ? ` (${parsed.message})` : ""}`);
    }
    if (type === "ssh-rsa") {
      const bits = createPublicKey(parsed.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) throw bad(`${where}: RSA key of ${bits} bits is too weak; use at least ${MIN_RSA_BITS} bits or ssh-ed25519`);
    }
    const id = `${type} ${body}`;
    if (!out.some((k) => k.id === id)) out.push({ line: comment ? `${id} ${comment}` : id, id });
  });
  return out;
}

function throwIt(err: Error): never {
  throw err;
}
