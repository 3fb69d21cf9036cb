import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
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

  it("keys pins by (vmid, address): an IP change drops the old address's pin, another vmid at an address starts afresh", () => {
    const store = createHostKeyStore(":memory:", manualClock(new Date("2026-11-25T10:00:00Z")));
    const a = Buffer.from("key-of-2001");
    const b = Buffer.from("key-of-2002");
    const at21 = hostId("10.10.0.21", 22);
    const at22 = hostId("10.10.0.22", 22);
    expect(store.check(at21, a, 2001)).toMatchObject({ ok: true, firstContact: true });
    // Same container, same address: a changed key is still refused.
    expect(store.check(at21, b, 2001)).toMatchObject({ ok: false, pinned: fingerprint(a) });

    // Container 2001 changes its IP in place: pinned at its new address, and its old address is free.
    expect(store.check(at22, a, 2001)).toMatchObject({ ok: true, firstContact: true });
    expect(store.forget(at21)).toBe(false);
    // The next tenant at 10.10.0.21 (container 2002) is a first contact, not a stalled host-key change.
    expect(store.check(at21, b, 2002)).toMatchObject({ ok: true, firstContact: true });

    // Another container takes 10.10.0.22 (2001 went away without a forget): its key is pinned afresh.
    const c = Buffer.from("key-of-2003");
    expect(store.check(at22, c, 2003)).toMatchObject({ ok: true, firstContact: true });
    expect(store.check(at22, a, 2003)).toMatchObject({ ok: false, pinned: fingerprint(c) });
    // Without a vmid (the portal's terminal) the pin of the address holds as before.
    expect(store.check(at22, a)).toMatchObject({ ok: false, pinned: fingerprint(c) });
    expect(store.check(at22, c)).toMatchObject({ ok: true, firstContact: false });
    store.close();
  });

  it("upgrades a store from before vmids: an old pin is kept, adopted when its key matches, and still refuses another key", async () => {
    const d = await mkdtemp(join(tmpdir(), "pxs-hostkeys-"));
    dirs.push(d);
    const path = join(d, "host-keys.db");
    const old = new Database(path);
    old.exec("CREATE TABLE host_keys (host TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, pinned_at TEXT NOT NULL) STRICT");
    const a = Buffer.from("key-a");
    old.prepare("INSERT INTO host_keys VALUES (?, ?, ?)").run(hostId("10.10.0.21", 22), fingerprint(a), "2026-11-01T00:00:00.000Z");
    old.close();

    const store = createHostKeyStore(path, manualClock(new Date("2026-11-25T10:00:00Z")));
    // Whose container the old pin belonged to is unknown, so a different key is refused rather than trusted.
    expect(store.check(hostId("10.10.0.21", 22), Buffer.from("key-b"), 2001)).toMatchObject({ ok: false, pinned: fingerprint(a) });
    expect(store.check(hostId("10.10.0.21", 22), a, 2001)).toMatchObject({ ok: true, firstContact: false });
    // Adopted by 2001: another vmid at the address now starts afresh.
    expect(store.check(hostId("10.10.0.21", 22), Buffer.from("key-b"), 2002)).toMatchObject({ ok: true, firstContact: true });
    store.close();
  });

  it("formats fingerprints like OpenSSH", () => {
    expect(fingerprint(Buffer.from("abc"))).toBe("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
  });
});
