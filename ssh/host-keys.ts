// Host-key pinning: the first key a container presents is stored (SQLite in the data dir); a changed key is refused.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../lib/clock.js";

/** What checking a presented key concluded. */
export type HostKeyVerdict =
  | { ok: true; firstContact: boolean; fingerprint: string }
  | { ok: false; fingerprint: string; pinned: string; pinnedAt: string };

export interface HostKeyStore {
  /** Pins `key` (an SSH wire-format public key) for `host` on first contact; afterwards accepts only that key. */
  check(host: string, key: Buffer): HostKeyVerdict;
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
  const insert = db.prepare<[string, string, string]>("INSERT OR IGNORE INTO host_keys (host, fingerprint, pinned_at) VALUES (?, ?, ?)");
  const select = db.prepare<[string], { fingerprint: string; pinned_at: string }>("SELECT fingerprint, pinned_at FROM host_keys WHERE host = ?");
  const del = db.prepare<[string]>("DELETE FROM host_keys WHERE host = ?");
  return {
    check(host, key) {
      const fp = fingerprint(key);
      // INSERT OR IGNORE then read back: two processes meeting a new host at once agree on one pin.
      const inserted = insert.run(host, fp, clock.now().toISOString()).changes === 1;
      const row = select.get(host);
      if (!row) return { ok: false, fingerprint: fp, pinned: "(unreadable)", pinnedAt: "" };
      if (row.fingerprint === fp) return { ok: true, firstContact: inserted, fingerprint: fp };
      return { ok: false, fingerprint: fp, pinned: row.fingerprint, pinnedAt: row.pinned_at };
    },
    forget: (host) => del.run(host).changes > 0,
    close: () => db.close(),
  };
}
