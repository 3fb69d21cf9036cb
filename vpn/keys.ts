// WireGuard keys: X25519 key pairs as base64 of the raw 32 bytes, the way `wg genkey`/`wg pubkey` print them.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { ProxstackError } from "../lib/errors.js";

/** A base64 WireGuard key: 32 bytes, so 43 base64 characters and one '='. */
export const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

const fromUrl = (s: string) => Buffer.from(s, "base64url").toString("base64");
const toUrl = (s: string) => Buffer.from(s, "base64").toString("base64url");

/** True when `key` is a well-formed base64 WireGuard key (32 bytes, not all zero: `wg` reads that as no key). */
export function isWgKey(key: string): boolean {
  if (!WG_KEY.test(key)) return false;
  const raw = Buffer.from(key, "base64");
  return raw.length === 32 && raw.some((b) => b !== 0);
}

/** A fresh X25519 key pair. */
export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  const jwk = privateKey.export({ format: "jwk" });
  if (!jwk.d || !jwk.x) throw new ProxstackError("wg-key-export-failed", "x25519 key export returned no raw key", { kind: "bug" });
  return { privateKey: fromUrl(jwk.d), publicKey: fromUrl(jwk.x) };
}

/** The public key of a base64 private key, as `wg pubkey` computes it. */
export function publicKeyOf(privateKey: string): string {
  if (!isWgKey(privateKey)) throw new ProxstackError("wg-key-invalid", "not a base64 WireGuard private key", { kind: "stall" });
  const priv = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: toUrl(privateKey), x: "" }, format: "jwk" });
  const jwk = createPublicKey(priv).export({ format: "jwk" });
  if (!jwk.x) throw new ProxstackError("wg-key-export-failed", "x25519 public key export returned no raw key", { kind: "bug" });
  return fromUrl(jwk.x);
}
