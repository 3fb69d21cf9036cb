// ssh2 writes about 1 ed25519 pair in 256 that its own parser refuses: every pair generateSshKeyPair returns parses.
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { generateSshKeyPair } from "./keygen.js";

describe("generateSshKeyPair", () => {
  it("returns only ed25519 pairs whose private and public halves parse (3,000 pairs: ~11 malformed ones expected from ssh2 alone)", () => {
    const unreadable: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const pair = generateSshKeyPair("ed25519", { comment: "test" });
      for (const half of [pair.private, pair.public]) {
        const parsed = ssh2.utils.parseKey(half);
        if (parsed instanceof Error) unreadable.push(`${parsed.message}: ${half.slice(0, 80)}`);
      }
    }
    expect(unreadable).toEqual([]);
  });
});
