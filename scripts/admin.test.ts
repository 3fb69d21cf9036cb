// `proxstack admin create`: a verified administrator in portal.db, a generated password shown once, promotion of an existing account.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPasswordHasher } from "../portal/passwords.js";
import { main } from "./proxstack.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "admin-cli-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: { PROXSTACK_DATA_DIR: join(dir, "data") }, cwd: dir });
  return { code, out: out.join(""), err: err.join("") };
}

function row(email: string) {
  const db = new Database(join(dir, "data", "portal.db"), { readonly: true });
  try {
    return db.prepare("SELECT role, verified_at IS NOT NULL AS verified, stack, password_hash FROM accounts WHERE email = ?").get(email) as {
      role: string;
      verified: number;
      stack: string;
      password_hash: string;
    };
  } finally {
    db.close();
  }
}

describe("proxstack admin create", () => {
  it("creates a verified administrator with the password from a file", async () => {
    writeFileSync(join(dir, "pw"), "a long enough passphrase\n");
    const r = await cli("admin", "create", "--email", "Ops@Example.com", "--password-file", "pw");
    expect(r).toEqual({ code: 0, out: "created administrator ops@example.com (id 1, stack ops)\n", err: "" });
    const a = row("ops@example.com");
    expect({ role: a.role, verified: a.verified, stack: a.stack }).toEqual({ role: "admin", verified: 1, stack: "ops" });
    expect(await createPasswordHasher().verify("a long enough passphrase", a.password_hash)).toBe(true);
  });

  it("generates a password when none is given and prints it once; a second run promotes, keeping it", async () => {
    const first = await cli("admin", "create", "--email", "root@example.com");
    expect(first.code).toBe(0);
    const pw = /password \(shown once\): (\S+)\n/.exec(first.out)?.[1] ?? "";
    expect(pw.length).toBe(24);
    const again = await cli("admin", "create", "--email", "root@example.com");
    expect(again.out).toBe("promoted administrator root@example.com (id 1, stack root)\n");
    expect(await createPasswordHasher().verify(pw, row("root@example.com").password_hash)).toBe(true);
  });

  it("usage errors exit 2; a short password or a bad e-mail exit 1 and create nothing", async () => {
    expect((await cli("admin", "create")).code).toBe(2);
    expect((await cli("admin", "delete", "--email", "a@b.c")).code).toBe(2);
    writeFileSync(join(dir, "short"), "short\n");
    expect(await cli("admin", "create", "--email", "a@example.com", "--password-file", "short")).toEqual({
      code: 1,
      out: "",
      err: "proxstack admin: the password must be at least 10 characters\n",
    });
    expect((await cli("admin", "create", "--email", "not-an-email")).err).toBe('proxstack admin: --email: "not-an-email" is not an e-mail address\n');
    expect(row("a@example.com")).toBeUndefined();
  });
});
