// Accounts repository: every SQL statement about portal accounts, their verification codes and bans.
import type { PortalDb } from "../db.js";

export type Role = "user" | "admin";

export interface Account {
  id: number;
  email: string;
  name: string;
  passwordHash: string;
  role: Role;
  verifiedAt: string | undefined;
  /** The stack this account owns (set at verification). */
  stack: string | undefined;
  banned: boolean;
  banReason: string | undefined;
  /** ISO; undefined with `banned` means permanent. */
  banExpiresAt: string | undefined;
  createdAt: string;
}

interface Row {
  id: number;
  email: string;
  name: string;
  password_hash: string;
  role: string;
  verified_at: string | null;
  stack: string | null;
  banned: number;
  ban_reason: string | null;
  ban_expires_at: string | null;
  created_at: string;
}

const toAccount = (r: Row): Account => ({
  id: r.id,
  email: r.email,
  name: r.name,
  passwordHash: r.password_hash,
  role: r.role === "admin" ? "admin" : "user",
  verifiedAt: r.verified_at ?? undefined,
  stack: r.stack ?? undefined,
  banned: r.banned === 1,
  banReason: r.ban_reason ?? undefined,
  banExpiresAt: r.ban_expires_at ?? undefined,
  createdAt: r.created_at,
});

export interface AccountsRepo {
  create(a: { email: string; name: string; passwordHash: string; role?: Role; verified?: boolean }, now: Date): Account;
  byId(id: number): Account | undefined;
  /** The account, when `family` is one of its sessions and not revoked (one statement: the per-request check). */
  byLiveSession(id: number, family: string): Account | undefined;
  byEmail(email: string): Account | undefined;
  byStack(stack: string): Account | undefined;
  /** Marks verified and records the owned stack, in one statement. */
  verify(id: number, stack: string, now: Date): void;
  setPassword(id: number, hash: string, now: Date): void;
  setRole(id: number, role: Role, now: Date): void;
  setBan(id: number, ban: { reason: string; expiresAt: string | undefined } | undefined, now: Date): void;
  /** Accounts whose email or name contains `search`, newest first. */
  search(search: string, page: { offset: number; limit: number }): { items: Account[]; total: number };
  stacksTaken(): Set<string>;
  putCode(id: number, codeHash: string, expiresAt: string): void;
  getCode(id: number): { codeHash: string; expiresAt: string; attempts: number } | undefined;
  countAttempt(id: number): void;
  deleteCode(id: number): void;
  /** Runs `fn` in one SQLite transaction. */
  tx<T>(fn: () => T): T;
}

export function createAccountsRepo(db: PortalDb): AccountsRepo {
  const insert = db.prepare(
    "INSERT INTO accounts (email, name, password_hash, role, verified_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
  );
  const byId = db.prepare("SELECT * FROM accounts WHERE id = ?");
  const byLiveSession = db.prepare(
    "SELECT a.* FROM accounts a JOIN sessions s ON s.account_id = a.id WHERE a.id = ? AND s.family = ? AND s.revoked_at IS NULL",
  );
  const byEmail = db.prepare("SELECT * FROM accounts WHERE email = ?");
  const byStack = db.prepare("SELECT * FROM accounts WHERE stack = ?");
  const verify = db.prepare("UPDATE accounts SET verified_at = ?, stack = ?, updated_at = ? WHERE id = ?");
  const setPassword = db.prepare("UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?");
  const setRole = db.prepare("UPDATE accounts SET role = ?, updated_at = ? WHERE id = ?");
  const setBan = db.prepare("UPDATE accounts SET banned = ?, ban_reason = ?, ban_expires_at = ?, updated_at = ? WHERE id = ?");
  const search = db.prepare("SELECT * FROM accounts WHERE instr(email, ?) > 0 OR instr(lower(name), ?) > 0 ORDER BY id DESC LIMIT ? OFFSET ?");
  const count = db.prepare("SELECT count(*) AS n FROM accounts WHERE instr(email, ?) > 0 OR instr(lower(name), ?) > 0");
  const stacks = db.prepare("SELECT stack FROM accounts WHERE stack IS NOT NULL");
  const putCode = db.prepare(
    "INSERT INTO verification_codes (account_id, code_hash, expires_at, attempts) VALUES (?, ?, ?, 0) ON CONFLICT (account_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0",
  );
  const getCode = db.prepare("SELECT code_hash, expires_at, attempts FROM verification_codes WHERE account_id = ?");
  const countAttempt = db.prepare("UPDATE verification_codes SET attempts = attempts + 1 WHERE account_id = ?");
  const deleteCode = db.prepare("DELETE FROM verification_codes WHERE account_id = ?");
  const one = (r: unknown) => (r ? toAccount(r as Row) : undefined);
  return {
    create(a, now) {
      const at = now.toISOString();
      return toAccount(insert.get(a.email, a.name, a.passwordHash, a.role ?? "user", a.verified ? at : null, at, at) as Row);
    },
    byId: (id) => one(byId.get(id)),
    byLiveSession: (id, family) => one(byLiveSession.get(id, family)),
    byEmail: (email) => one(byEmail.get(email)),
    byStack: (stack) => one(byStack.get(stack)),
    verify: (id, stack, now) => void verify.run(now.toISOString(), stack, now.toISOString(), id),
    setPassword: (id, hash, now) => void setPassword.run(hash, now.toISOString(), id),
    setRole: (id, role, now) => void setRole.run(role, now.toISOString(), id),
    setBan: (id, ban, now) => void setBan.run(ban ? 1 : 0, ban?.reason ?? null, ban?.expiresAt ?? null, now.toISOString(), id),
    search(s, page) {
      const needle = s.toLowerCase();
      const items = (search.all(needle, needle, page.limit, page.offset) as Row[]).map(toAccount);
      return { items, total: (count.get(needle, needle) as { n: number }).n };
    },
    stacksTaken: () => new Set((stacks.all() as { stack: string }[]).map((r) => r.stack)),
    putCode: (id, codeHash, expiresAt) => void putCode.run(id, codeHash, expiresAt),
    getCode(id) {
      const r = getCode.get(id) as { code_hash: string; expires_at: string; attempts: number } | undefined;
      return r ? { codeHash: r.code_hash, expiresAt: r.expires_at, attempts: r.attempts } : undefined;
    },
    countAttempt: (id) => void countAttempt.run(id),
    deleteCode: (id) => void deleteCode.run(id),
    tx: (fn) => db.transaction(fn)(),
  };
}
