import { describe, expect, it } from "vitest";
import { generateKeyPair, isWgKey, publicKeyOf } from "./keys.js";

describe("WireGuard keys", () => {
  it("generates X25519 pairs whose public half matches the private one (RFC 7748 test vector too)", () => {
    const k = generateKeyPair();
    expect(isWgKey(k.privateKey) && isWgKey(k.publicKey)).toBe(true);
    expect(publicKeyOf(k.privateKey)).toBe(k.publicKey);
    expect(generateKeyPair().privateKey).not.toBe(k.privateKey);
    // RFC 7748 §6.1: Alice's private key and public key.
    const priv = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex").toString("base64");
    const pub = Buffer.from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "hex").toString("base64");
    expect(publicKeyOf(priv)).toBe(pub);
  });

  it.each(["", "abc", "A".repeat(44), "A".repeat(43) + "=", "!".repeat(43) + "=", Buffer.alloc(31).toString("base64")])("rejects %j as a key", (s) => {
    expect(isWgKey(s)).toBe(false);
  });
});
