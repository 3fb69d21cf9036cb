import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS, openPortalDb } from "./db.js";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("portal database", () => {
  it("WAL, every migration once, idempotent on reopen", () => {
    dir = mkdtempSync(join(tmpdir(), "portal-db-"));
    const file = join(dir, "p.db");
    const db = openPortalDb(file);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    db.prepare("INSERT INTO accounts (email, name, password_hash, created_at, updated_at) VALUES ('a@b.c', 'a', 'h', 'x', 'x')").run();
    db.close();
    const again = openPortalDb(file);
    expect((again.prepare("SELECT count(*) AS n FROM accounts").get() as { n: number }).n).toBe(1);
    again.close();
  });

  it("refuses a database written by a newer proxstack", () => {
    dir = mkdtempSync(join(tmpdir(), "portal-db-"));
    const file = join(dir, "p.db");
    const raw = new Database(file);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => openPortalDb(file)).toThrow(/newer than this proxstack/);
  });

  it("a role outside user/admin is refused by the schema", () => {
    dir = mkdtempSync(join(tmpdir(), "portal-db-"));
    const db = openPortalDb(join(dir, "p.db"));
    expect(() =>
      db.prepare("INSERT INTO accounts (email, name, password_hash, role, created_at, updated_at) VALUES ('a@b.c', 'a', 'h', 'root', 'x', 'x')").run(),
    ).toThrow(/CHECK/);
    db.close();
  });
});
