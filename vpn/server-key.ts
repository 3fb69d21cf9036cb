// The server's WireGuard key: generated once into `<data dir>/server.key` (0600) and read back on every start.
import fs from "node:fs";
import path from "node:path";
import { ProxstackError } from "../lib/errors.js";
import { generateKeyPair, isWgKey, publicKeyOf } from "./keys.js";

export interface ServerKey {
  privateKey: string;
  publicKey: string;
  /** The 0600 file holding the private key. */
  keyFile: string;
}

export function loadOrCreateServerKey(dataDir: string): ServerKey {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dataDir, "server.key");
  if (!fs.existsSync(keyFile)) {
    const pair = generateKeyPair();
    fs.writeFileSync(keyFile, pair.privateKey + "\n", { mode: 0o600, flag: "wx" });
  }
  const st = fs.statSync(keyFile);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(keyFile, 0o600);
  const privateKey = fs.readFileSync(keyFile, "utf8").trim();
  if (!isWgKey(privateKey)) {
    throw new ProxstackError("bad-server-key", `${keyFile} does not hold a base64 WireGuard private key; move it away to generate a new one`, {
      kind: "stall",
    });
  }
  return { privateKey, publicKey: publicKeyOf(privateKey), keyFile };
}
