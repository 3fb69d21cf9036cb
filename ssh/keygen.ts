// SSH key pairs from ssh2's generator, checked at this one boundary: ssh2 (1.17) drops the leading zero byte of an
// ed25519 public key that starts with one (about 1 key in 256; mscdex/ssh2 issues #1390, #1513), and the pair it
// writes then fails its own parser. Such a pair is thrown away and generated again.
// ssh2 is CommonJS and Node cannot see `utils` as a named export; take it from the default export.
import ssh2 from "ssh2";
import { ProxstackError } from "../lib/errors.js";

const { utils } = ssh2;

type KeyType = Parameters<typeof utils.generateKeyPairSync>[0];
type KeyOptions = NonNullable<Parameters<typeof utils.generateKeyPairSync>[1]>;

/** Tries before giving up: 16 malformed ed25519 pairs in a row happen once in 256^16. */
const ATTEMPTS = 16;

/**
 * A key pair in OpenSSH format whose private and public halves both parse.
 * @example generateSshKeyPair("ed25519", { comment: "proxstack-provisioning" }).public // "ssh-ed25519 AAAA… proxstack-provisioning"
 */
export function generateSshKeyPair(type: KeyType, opts: KeyOptions = {}): { private: string; public: string } {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const pair = utils.generateKeyPairSync(type, opts as never) as { private: string; public: string };
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new ProxstackError("keygen-failed", `ssh2 generated ${ATTEMPTS} ${type} key pairs in a row that it cannot read back`, { kind: "bug" });
}
