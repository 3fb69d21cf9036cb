// The portal's SQLite database: WAL, foreign keys, and forward-only migrations numbered by PRAGMA user_version.
import Database from "better-sqlite3";
import { ProxstackError } from "../lib/errors.js";

export type PortalDb = Database.Database;

/**
 * Migrations in order; each runs once, inside a transaction, and is never edited after release
 * (a change is a new entry). The database's user_version is the count applied.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE accounts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     email TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     password_hash TEXT NOT NULL,
     role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
     verified_at TEXT,
     stack TEXT UNIQUE,
     banned INTEGER NOT NULL DEFAULT 0,
     ban_reason TEXT,
     ban_expires_at TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL);
   CREATE TABLE verification_codes (
     account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
     code_hash TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE refresh_tokens (
     token_hash TEXT PRIMARY KEY,
     account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
     family TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     rotated_at TEXT,
     revoked_at TEXT);
   CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
   CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);
   CREATE TABLE sessions (
     family TEXT PRIMARY KEY,
     account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
     created_at TEXT NOT NULL,
     revoked_at TEXT,
     revoke_reason TEXT);
   CREATE INDEX sessions_account ON sessions (account_id);`,
  `CREATE TABLE audit_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     actor_id INTEGER,
     subject_id INTEGER,
     action TEXT NOT NULL,
     detail TEXT NOT NULL DEFAULT '{}');
   CREATE INDEX audit_events_subject ON audit_events (subject_id, id);`,
];

/** Opens (creating) the database and applies the migrations it has not seen; refuses a database from a newer version. */
export function openPortalDb(file: string): PortalDb {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

export function migrate(db: PortalDb): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new ProxstackError(
      "portal-db-newer",
      `the portal database is at schema version ${current}, newer than this proxstack (${MIGRATIONS.length}); upgrade proxstack`,
      { kind: "stall" },
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] ?? "");
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
