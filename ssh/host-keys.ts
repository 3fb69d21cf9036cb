// Host-key pinning: the first key a container presents is stored (SQLite in the data dir); a changed key is refused.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../lib/clock.js";

/** What checking a presented key concluded. */
export type HostKeyVerdict = { ok: true; firstContact: boolean; fingerprint: string } | { ok: false; fingerprint: string; pinned: string; pinnedAt: string };

export interface HostKeyStore {
  /**
   * Pins `key` (an SSH wire-format public key) for `host` on first contact; afterwards accepts only that key.
   * With `vmid`, a pin belongs to the pair (vmid, address): a pin of this address held by another vmid
   * is dropped (another container now has the address), and so are this vmid's pins at other
   * addresses (the container moved; its old address goes to someone else next).
   */
  check(host: string, key: Buffer, vmid?: number): HostKeyVerdict;
  /** Forgets a host's pin, e.g. when its container was destroyed or deliberately replaced. */
  forget(host: string): boolean;
  close(): void;
}

/** OpenSSH-style fingerprint: `SHA256:` and unpadded base64. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The pin key of a host: `address:port`. */
export function hostId(host: string, port: number): string {
  return `${host}:${port}`;
}

/** The address part of a pin key (`10.10.0.21:22` → `10.10.0.21`). */
const addressOf = (id: string) => id.slice(0, id.lastIndexOf(":"));

/** Opens (creating) the pin store at `path`, e.g. `<dataDir>/host-keys.db`; pins survive restarts. */
export function createHostKeyStore(path: string, clock: Clock): HostKeyStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  db.exec(`CREATE TABLE IF NOT EXISTS host_keys (
    host TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    pinned_at TEXT NOT NULL
  ) STRICT`);
  // Stores from before pins were keyed by container: their rows keep vmid NULL until next seen with one.
  if (
    !db
      .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('host_keys')")
      .all()
      .some((c) => c.name === "vmid")
  ) {
    db.exec("ALTER TABLE host_keys ADD COLUMN vmid INTEGER");
  }
  const insert = db.prepare<[string, string, string, number | null]>(
    "INSERT OR IGNORE INTO host_keys (host, fingerprint, pinned_at, vmid) VALUES (?, ?, ?, ?)",
  );
  const select = db.prepare<[string], { fingerprint: string; pinned_at: string; vmid: number | null }>(
    "SELECT fingerprint, pinned_at, vmid FROM host_keys WHERE host = ?",
  );
  const ofVmid = db.prepare<[number], { host: string }>("SELECT host FROM host_keys WHERE vmid = ?");
  const adopt = db.prepare<[number, string]>("UPDATE host_keys SET vmid = ? WHERE host = ? AND vmid IS NULL");
  const del = db.prepare<[string]>("DELETE FROM host_keys WHERE host = ?");

  // One transaction: two processes meeting a new host at once agree on one pin.
  const check = db.transaction((host: string, fp: string, vmid: number | undefined): HostKeyVerdict => {
    if (vmid !== undefined) {
      for (const r of ofVmid.all(vmid)) if (addressOf(r.host) !== addressOf(host)) del.run(r.host);
      const held = select.get(host);
      if (held && held.vmid !== null && held.vmid !== vmid) del.run(host);
    }
    const inserted = insert.run(host, fp, clock.now().toISOString(), vmid ?? null).changes === 1;
    const row = select.get(host);
    if (!row) return { ok: false, fingerprint: fp, pinned: "(unreadable)", pinnedAt: "" };
    if (row.fingerprint !== fp) return { ok: false, fingerprint: fp, pinned: row.fingerprint, pinnedAt: row.pinned_at };
    if (vmid !== undefined) adopt.run(vmid, host);
    return { ok: true, firstContact: inserted, fingerprint: fp };
  });
  return {
    check: (host, key, vmid) => check.immediate(host, fingerprint(key), vmid),
    forget: (host) => del.run(host).changes > 0,
    close: () => db.close(),
  };
}
