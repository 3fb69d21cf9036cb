// A small SQLite-backed PointsLedger for the portal's tests (billing's ledger replaces it in production).
import Database from "better-sqlite3";
import type { LedgerEntry, LedgerReason, PointsLedger } from "../points-ledger.js";

export function createSqliteLedger(file = ":memory:"): PointsLedger & { close(): void } {
  const db = new Database(file);
  db.exec(`CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, amount INTEGER NOT NULL, reason TEXT NOT NULL,
    note TEXT, balance INTEGER NOT NULL, at TEXT NOT NULL, idem TEXT UNIQUE);
    CREATE TABLE IF NOT EXISTS balances (user TEXT PRIMARY KEY, balance INTEGER NOT NULL);`);
  const bal = db.prepare("SELECT balance FROM balances WHERE user = ?");
  const byIdem = db.prepare("SELECT * FROM ledger WHERE idem = ?");
  const put = db.prepare("INSERT INTO balances (user, balance) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET balance = excluded.balance");
  const ins = db.prepare("INSERT INTO ledger (user, amount, reason, note, balance, at, idem) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *");
  const list = db.prepare("SELECT * FROM ledger WHERE user = ? ORDER BY id DESC LIMIT ? OFFSET ?");
  const count = db.prepare("SELECT count(*) AS n FROM ledger WHERE user = ?");
  interface Row {
    id: number;
    user: string;
    amount: number;
    reason: string;
    note: string | null;
    balance: number;
    at: string;
  }
  const toEntry = (r: Row): LedgerEntry => ({
    id: r.id,
    user: r.user,
    amountMicro: r.amount,
    reason: r.reason as LedgerReason,
    note: r.note ?? undefined,
    balanceMicro: r.balance,
    at: r.at,
  });
  const balanceMicro = (user: string) => (bal.get(user) as { balance: number } | undefined)?.balance ?? 0;
  return {
    balanceMicro,
    credit: (user, amount, reason, opts = {}) =>
      db.transaction(() => {
        if (!Number.isSafeInteger(amount)) throw new RangeError("amount must be a whole number of micro-points");
        if (opts.idempotencyKey) {
          const hit = byIdem.get(opts.idempotencyKey) as Row | undefined;
          if (hit) return toEntry(hit);
        }
        const next = balanceMicro(user) + amount;
        put.run(user, next);
        return toEntry(ins.get(user, amount, reason, opts.note ?? null, next, (opts.at ?? new Date()).toISOString(), opts.idempotencyKey ?? null) as Row);
      })(),
    entries: (user, page) => ({ items: (list.all(user, page.limit, page.offset) as Row[]).map(toEntry), total: (count.get(user) as { n: number }).n }),
    close: () => db.close(),
  };
}
