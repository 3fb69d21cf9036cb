import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../lib/clock.js";
import { createHostKeyStore, fingerprint, hostId } from "./host-keys.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("host key pins (real SQLite)", () => {
  it("pins on first contact, accepts the same key, refuses a changed one, and survives a restart", async () => {
    const d = await mkdtemp(join(tmpdir(), "pxs-hostkeys-"));
    dirs.push(d);
    const path = join(d, "host-keys.db");
    const clock = manualClock(new Date("2026-11-25T10:00:00Z"));
    const a = Buffer.from("key-a");
    const b = Buffer.from("key-b");
    const id = hostId("10.10.0.21", 22);

    const store = createHostKeyStore(path, clock);
    expect(store.check(id, a)).toEqual({ ok: true, firstContact: true, fingerprint: fingerprint(a) });
    expect(store.check(id, a)).toMatchObject({ ok: true, firstContact: false });
    store.close();

    const reopened = createHostKeyStore(path, clock);
    expect(reopened.check(id, b)).toEqual({ ok: false, fingerprint: fingerprint(b), pinned: fingerprint(a), pinnedAt: "2026-11-25T10:00:00.000Z" });
    // Another port of the same address is another host.
    expect(reopened.check(hostId("10.10.0.21", 2222), b)).toMatchObject({ ok: true, firstContact: true });
    expect(reopened.forget(id)).toBe(true);
    expect(reopened.check(id, b)).toMatchObject({ ok: true, firstContact: true });
    reopened.close();
  });

  it("formats fingerprints like OpenSSH", () => {
    expect(fingerprint(Buffer.from("abc"))).toBe("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
  });
});
