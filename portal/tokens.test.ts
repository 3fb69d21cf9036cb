import { describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { createTokenService } from "./tokens.js";

const SECRET = new Uint8Array(32).fill(9);

describe("access tokens", () => {
  it("round-trips the account and session; expires after the TTL", async () => {
    const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
    const t = createTokenService(SECRET, clock, 900);
    const token = await t.sign({ accountId: 7, session: "fam-1" });
    expect(JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    expect(await t.verify(token)).toEqual({ accountId: 7, session: "fam-1" });
    clock.advance(899_000);
    expect(await t.verify(token)).toEqual({ accountId: 7, session: "fam-1" });
    clock.advance(1_000);
    await expect(t.verify(token)).rejects.toMatchObject({
      code: "invalid-token",
      status: 401,
      message: "the access token is expired; log in again or refresh it",
    });
  });

  it("refuses garbage and a token from another service's secret", async () => {
    const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
    const other = await createTokenService(new Uint8Array(32).fill(1), clock).sign({ accountId: 1, session: "s" });
    const t = createTokenService(SECRET, clock);
    for (const bad of ["", "a.b.c", other]) await expect(t.verify(bad)).rejects.toMatchObject({ code: "invalid-token", status: 401 });
  });

  it("a token verified once is still checked for expiry, and a changed byte is still refused", async () => {
    const clock = manualClock(new Date("2026-11-30T10:00:00Z"));
    const t = createTokenService(SECRET, clock, 60);
    const token = await t.sign({ accountId: 3, session: "fam-3" });
    expect(await t.verify(token)).toEqual({ accountId: 3, session: "fam-3" });
    const [head, body, sig = ""] = token.split(".");
    const flipped = `${head}.${body}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BA" : "AA"}`;
    await expect(t.verify(flipped)).rejects.toMatchObject({ code: "invalid-token", message: "the access token is invalid; log in again or refresh it" });
    clock.advance(60_000);
    await expect(t.verify(token)).rejects.toMatchObject({ code: "invalid-token", message: "the access token is expired; log in again or refresh it" });
  });

  it("a secret under 32 bytes is refused at start-up", () => {
    expect(() => createTokenService(new Uint8Array(16), manualClock(new Date(0)))).toThrow(/at least 32 bytes/);
  });
});
