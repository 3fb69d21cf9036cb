// Every SQL statement of billing (SQLite, WAL): accounts with their balance, the ledger, meters, events, suspension steps, schedules.
import Database from "better-sqlite3";
import { ProxstackError } from "../lib/errors.js";

/** Why a ledger row exists. */
export type LedgerReason = "signup-bonus" | "admin-grant" | "usage" | "domain-fee" | "refund";
export const LEDGER_REASONS: readonly LedgerReason[] = ["signup-bonus", "admin-grant", "usage", "domain-fee", "refund"];

export interface LedgerEntry {
  id: bigint;
  stack: string;
  /** When the row was written (ISO); for hourly usage rows, the first charge of that hour. */
  at: string;
  /** Positive credits, negative debits. */
  amountMicro: bigint;
  reason: LedgerReason;
  note: string;
  /** Hourly usage and domain-fee rows: the hour they aggregate (ISO, e.g. 2026-11-30T09:00:00.000Z). */
  hour: string | undefined;
}

export interface Account {
  stack: string;
  /** Always equal to the sum of the stack's ledger rows. */
  balanceMicro: bigint;
  /** Charges a tick could not take because the balance was exhausted (never in the ledger). */
  writtenOffMicro: bigint;
  /** Runway warnings already sent for the current crossing: 0 none, 1 below 24 h, 2 below 1 h, 3 below 10 min. */
  warnedLevel: number;
}

/**
 * One billed component of an instance: its rate and the minutes its current segment had at the meter's
 * mark. What the segment has cost is derived, floor(rate × minutes / 1440), never stored.
 */
export interface MeterComponent {
  rateMicroPerDay: number;
  minutes: number;
}

/**
 * What billing knows of one instance. A running meter is billed up to the shared tick cursor: its
 * components' minutes grow by (cursor − mark), so a steady minute writes no meter row. A stopped meter
 * is billed up to its mark.
 */
export interface Meter {
  stack: string;
  instance: string;
  running: boolean;
  /** Epoch minute: where a running meter's minutes count from, or where a stopped one was billed up to. */
  mark: number;
  plan: MeterComponent;
  domains: MeterComponent;
}

/**
 * One stack as a tick sees it: its account (undefined until billing first charges it), its meters by
 * instance, and the sums of the tick in progress, which metering resets when it first touches the stack
 * in a tick (`tick` names that tick).
 */
export interface TickStack {
  readonly stack: string;
  readonly account: Account | undefined;
  readonly meters: ReadonlyMap<string, Meter>;
  tick: number;
  plan: number;
  domains: number;
  burn: number;
}

/** What one tick writes for one stack: its charges of the hour, a write-off, its warning level (micro-points as safe integers). */
export interface Charge {
  of: TickStack;
  usageMicro: number;
  feeMicro: number;
  writtenOffMicro: number;
  warnedLevel: number;
}

export interface BillingEvent {
  id: bigint;
  stack: string;
  at: string;
  type: string;
  message: string;
}

/** Persisted steps of a points-exhausted suspension, so a restart never repeats or skips one. */
export type SuspensionStep = "suspended" | "deletion-notified" | "deleted";
const SUSPENSION_STEPS: readonly SuspensionStep[] = ["suspended", "deletion-notified", "deleted"];

/**
 * What a tick reads and writes, all inside one BEGIN IMMEDIATE transaction. Reads come from a snapshot
 * the repository keeps between ticks while no other connection has written the database.
 */
export interface TickTx {
  /** The minute every running meter is billed up to; undefined before the first tick. */
  cursor(): number | undefined;
  /** The stack as billing holds it (a new, empty one for a stack billing has not seen); meters put in the tick appear in it. */
  stack(stack: string): TickStack;
  meters(): Iterable<Meter>;
  meterCount(): number;
  putMeter(m: Meter): void;
  /** Creates the account with its signup bonus (one ledger row) when it does not exist. */
  ensureAccount(stack: string, bonusMicro: bigint, at: string): Account;
  /** Takes each stack's charges into its usage and domain-fee rows of `hour` and its balance (set-based). */
  charge(hour: string, at: string, charges: readonly Charge[]): void;
  setCursor(minute: number): void;
}

export interface LedgerRepository {
  /** Epoch minute the billing database was created: instances running before it are billed from then on. */
  readonly epochMinute: number;
  account(stack: string): Account | undefined;
  accounts(): Account[];
  ensureAccount(stack: string, bonusMicro: bigint, at: string): Account;
  /**
   * Writes one ledger row and moves the balance with it, in one transaction. A debit that would take
   * the balance below zero is refused (`points-insufficient`); a `key` makes the row idempotent.
   */
  post(e: { stack: string; amountMicro: bigint; reason: LedgerReason; note: string; at: string; key?: string }): {
    entry: LedgerEntry;
    balanceMicro: bigint;
    created: boolean;
  };
  /** Newest first; `beforeId` pages on. */
  entries(stack: string, opts?: { limit?: number; beforeId?: bigint }): LedgerEntry[];
  ledgerSum(stack: string): bigint;
  meters(stack?: string): Meter[];
  /** The minute every running meter is billed up to; undefined before the first tick. */
  cursor(): number | undefined;
  tick<T>(fn: (tx: TickTx) => T): T;
  addEvent(stack: string, at: string, type: string, message: string): void;
  events(stack?: string, limit?: number): BillingEvent[];
  /** The step a points-exhausted suspension reached, and when it reached it. */
  suspensionStep(stack: string): { since: string; step: SuspensionStep; stepAt: string } | undefined;
  setSuspensionStep(stack: string, since: string, step: SuspensionStep | undefined, stepAt?: string): void;
  lastSlot(stack: string, instance: string, kind: "snapshot" | "backup"): number | undefined;
  setLastSlot(stack: string, instance: string, kind: "snapshot" | "backup", minute: number): void;
  /** Backups proxstack took (only these are ever pruned), oldest first. */
  ownBackups(stack: string, instance: string): { archive: string; takenAt: string }[];
  recordBackup(stack: string, instance: string, archive: string, takenAt: string): void;
  forgetBackup(archive: string): void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  stack TEXT PRIMARY KEY, balance_micro INTEGER NOT NULL DEFAULT 0, written_off_micro INTEGER NOT NULL DEFAULT 0,
  warned_level INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
  id INTEGER PRIMARY KEY AUTOINCREMENT, stack TEXT NOT NULL, at TEXT NOT NULL, amount_micro INTEGER NOT NULL,
  reason TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', hour TEXT, key TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_hour ON ledger (stack, reason, hour) WHERE hour IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS ledger_key ON ledger (stack, key) WHERE key IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_stack ON ledger (stack, id);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, stack TEXT NOT NULL, at TEXT NOT NULL, type TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_stack ON events (stack, id);
CREATE TABLE IF NOT EXISTS suspensions (stack TEXT PRIMARY KEY, since TEXT NOT NULL, step TEXT NOT NULL, step_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS backups (archive TEXT PRIMARY KEY, stack TEXT NOT NULL, instance TEXT NOT NULL, taken_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedules (stack TEXT NOT NULL, instance TEXT NOT NULL, kind TEXT NOT NULL, last_slot INTEGER NOT NULL, PRIMARY KEY (stack, instance, kind));
`;

const METERS = `CREATE TABLE IF NOT EXISTS meters (
  stack TEXT NOT NULL, instance TEXT NOT NULL, running INTEGER NOT NULL, mark INTEGER NOT NULL,
  plan_rate INTEGER NOT NULL, plan_minutes INTEGER NOT NULL, domain_rate INTEGER NOT NULL, domain_minutes INTEGER NOT NULL,
  PRIMARY KEY (stack, instance)) WITHOUT ROWID`;

/**
 * Forward-only: a database from before the shared cursor kept a billed-up-to minute and a charge per
 * meter. Every running meter was advanced by every tick, so they share one billed-up-to minute: it
 * becomes the cursor and each meter's mark; the charges were always floor(rate × minutes / 1440).
 */
function migrate(db: Database.Database): void {
  if (!db.prepare("SELECT 1 FROM pragma_table_info('accounts') WHERE name = 'open_hour'").get()) {
    db.exec(`ALTER TABLE accounts ADD COLUMN open_hour TEXT;
      ALTER TABLE accounts ADD COLUMN open_usage INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE accounts ADD COLUMN open_fee INTEGER NOT NULL DEFAULT 0;`);
  }
  const old = db.prepare("SELECT 1 FROM pragma_table_info('meters') WHERE name = 'billed_until'").get();
  if (!old) {
    db.exec(METERS);
    return;
  }
  db.transaction(() => {
    db.exec("ALTER TABLE meters RENAME TO meters_v1");
    db.exec(METERS);
    db.exec(`INSERT INTO meters SELECT stack, instance, running, billed_until, plan_rate, plan_minutes, domain_rate, domain_minutes FROM meters_v1`);
    db.exec(`INSERT OR REPLACE INTO meta (key, value) SELECT 'cursor', CAST(MAX(billed_until) AS TEXT) FROM meters_v1 HAVING COUNT(*) > 0`);
    db.exec("DROP TABLE meters_v1");
  }).immediate();
}

interface AccountRow {
  stack: string;
  balance_micro: bigint;
  written_off_micro: bigint;
  warned_level: bigint;
}
interface LedgerRow {
  id: bigint;
  stack: string;
  at: string;
  amount_micro: bigint;
  reason: string;
  note: string;
  hour: string | null;
}
type MeterRaw = [string, string, number, number, number, number, number, number];
type AccountRaw = [number, string, bigint, bigint, bigint, string | null, bigint, bigint];

/** An open hour's amount: what ticks of one hour charged, well inside the safe integers. */
function openAmount(v: bigint): number {
  if (v > 0n || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new ProxstackError("ledger-corrupt", `an open hour's amount of ${v} micro-points`, { kind: "bug" });
  return Number(v);
}

/**
 * The amount of a ledger row as it stands. The usage and domain-fee rows of a stack's open hour are
 * kept current in its account row (open_usage, open_fee), which each tick updates together with the
 * balance; the ledger row itself is written when the hour closes (the stack's first charge of a later hour).
 */
const AMOUNT = `CASE WHEN l.hour IS NOT NULL AND l.hour = a.open_hour
  THEN CASE l.reason WHEN 'usage' THEN a.open_usage WHEN 'domain-fee' THEN a.open_fee ELSE l.amount_micro END
  ELSE l.amount_micro END`;

const toAccount = (r: AccountRow): Account => ({
  stack: r.stack,
  balanceMicro: r.balance_micro,
  writtenOffMicro: r.written_off_micro,
  warnedLevel: Number(r.warned_level),
});

function toEntry(r: LedgerRow): LedgerEntry {
  if (!(LEDGER_REASONS as readonly string[]).includes(r.reason)) {
    throw new ProxstackError("ledger-corrupt", `ledger row ${r.id} has an unknown reason '${r.reason}'`);
  }
  return { id: r.id, stack: r.stack, at: r.at, amountMicro: r.amount_micro, reason: r.reason as LedgerReason, note: r.note, hour: r.hour ?? undefined };
}

/** Meters are read as plain numbers (the hot path of a tick); each value must be a safe integer. */
function toMeter(r: MeterRaw): Meter {
  for (let i = 2; i < 8; i++) {
    if (!Number.isSafeInteger(r[i])) throw new ProxstackError("meter-corrupt", `meter ${r[0]}/${r[1]} holds a value that is not a safe integer`);
  }
  return {
    stack: r[0],
    instance: r[1],
    running: r[2] === 1,
    mark: r[3],
    plan: { rateMicroPerDay: r[4], minutes: r[5] },
    domains: { rateMicroPerDay: r[6], minutes: r[7] },
  };
}

const meterRow = (m: Meter): MeterRaw => [
  m.stack,
  m.instance,
  m.running ? 1 : 0,
  m.mark,
  m.plan.rateMicroPerDay,
  m.plan.minutes,
  m.domains.rateMicroPerDay,
  m.domains.minutes,
];

const METER_COLUMNS = "stack, instance, running, mark, plan_rate, plan_minutes, domain_rate, domain_minutes";

/**
 * What a tick reads, kept between ticks: a steady minute then reads nothing but `PRAGMA data_version`,
 * which changes exactly when another connection (another process ticking, a grant from the CLI) has
 * committed. This connection's own writes keep the snapshot current as they are made.
 */
interface Snapshot {
  dataVersion: number;
  cursor: number | undefined;
  stacks: Map<string, Held>;
  meterCount: number;
}

interface Held extends TickStack {
  account: Account | undefined;
  meters: Map<string, Meter>;
  /** The account's rowid (0 without an account). */
  rowid: number;
  /** The stack's open hour and the amounts of its usage and domain-fee rows (0 or negative safe integers; 0: no row yet). */
  hour: string | undefined;
  usage: number;
  fee: number;
}

const held = (stack: string): Held => ({
  stack,
  account: undefined,
  meters: new Map(),
  rowid: 0,
  hour: undefined,
  usage: 0,
  fee: 0,
  tick: 0,
  plan: 0,
  domains: 0,
  burn: 0,
});

/** Opens (creating) the billing database; `now` dates the billing epoch of a new database. */
export function openLedgerRepository(file: string, opts: { now: Date }): LedgerRepository {
  const db = new Database(file);
  // Two processes ticking at once: the second waits for the first's transaction, then finds nothing left to bill.
  // Set first, so even switching a new file to WAL waits instead of failing.
  db.pragma("busy_timeout = 10000");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  // A tick touches every account and the hour's ledger rows: keep them in SQLite's page cache (64 MiB) rather than re-reading them.
  db.pragma("cache_size = -65536");
  db.defaultSafeIntegers(true);
  db.exec(SCHEMA);
  migrate(db);
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch_minute', ?)").run(String(Math.floor(opts.now.getTime() / 60_000)));
  const epochMinute = Number((db.prepare("SELECT value FROM meta WHERE key = 'epoch_minute'").get() as { value: string }).value);

  const q = {
    account: db.prepare<[string], AccountRow>("SELECT * FROM accounts WHERE stack = ?"),
    accounts: db.prepare<[], AccountRow>("SELECT * FROM accounts ORDER BY stack"),
    insertAccount: db.prepare("INSERT OR IGNORE INTO accounts (stack, created_at) VALUES (?, ?)"),
    addBalance: db.prepare("UPDATE accounts SET balance_micro = balance_micro + ? WHERE stack = ?"),
    addWrittenOff: db.prepare("UPDATE accounts SET written_off_micro = written_off_micro + ? WHERE stack = ?"),
    setWarned: db.prepare("UPDATE accounts SET warned_level = ? WHERE stack = ?"),
    accountsRaw: db
      .prepare<[], AccountRaw>("SELECT rowid, stack, balance_micro, written_off_micro, warned_level, open_hour, open_usage, open_fee FROM accounts")
      .raw(true),
    // A tick's charges in one statement: element k of the JSON array is [open usage, open fee] of `hour` for the account of rowid
    // low + k. The balance moves by what the open amounts grew (from 0 when the hour opens now), so it stays the ledger's sum.
    takeCharges: db.prepare<[{ charges: string; low: number; hour: string }]>(
      `UPDATE accounts SET
         balance_micro = balance_micro - (CASE WHEN open_hour IS @hour THEN open_usage + open_fee ELSE 0 END) + (j.value ->> 0) + (j.value ->> 1),
         open_usage = j.value ->> 0, open_fee = j.value ->> 1, open_hour = @hour
       FROM json_each(@charges) AS j WHERE j.type = 'array' AND accounts.rowid = j.key + @low`,
    ),
    closeRow: db.prepare("UPDATE ledger SET amount_micro = ? WHERE stack = ? AND reason = ? AND hour = ?"),
    cursor: db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'cursor'"),
    setCursor: db.prepare("INSERT INTO meta (key, value) VALUES ('cursor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    insertEntry: db.prepare<[string, string, bigint, string, string, string | null], LedgerRow>(
      "INSERT INTO ledger (stack, at, amount_micro, reason, note, key) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
    ),
    entryByKey: db.prepare<[string, string], LedgerRow>("SELECT * FROM ledger WHERE stack = ? AND key = ?"),
    // A row of the hour written before the account kept it open (an older database) is added to, not duplicated.
    openRow: db.prepare<[string, string, bigint, string, string, string], { amount_micro: bigint }>(
      `INSERT INTO ledger (stack, at, amount_micro, reason, note, hour) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (stack, reason, hour) WHERE hour IS NOT NULL DO UPDATE SET amount_micro = amount_micro + excluded.amount_micro RETURNING amount_micro`,
    ),
    entries: db.prepare<[string, bigint, number], LedgerRow>(
      `SELECT l.id, l.stack, l.at, ${AMOUNT} AS amount_micro, l.reason, l.note, l.hour FROM ledger l LEFT JOIN accounts a ON a.stack = l.stack
       WHERE l.stack = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?`,
    ),
    sum: db.prepare<[string], { s: bigint | null }>(`SELECT SUM(${AMOUNT}) AS s FROM ledger l LEFT JOIN accounts a ON a.stack = l.stack WHERE l.stack = ?`),
    meters: db.prepare<[], MeterRaw>(`SELECT ${METER_COLUMNS} FROM meters ORDER BY stack, instance`).raw(true).safeIntegers(false),
    metersOf: db.prepare<[string], MeterRaw>(`SELECT ${METER_COLUMNS} FROM meters WHERE stack = ? ORDER BY instance`).raw(true).safeIntegers(false),
    putMeter: db.prepare<MeterRaw>(`INSERT OR REPLACE INTO meters (${METER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    addEvent: db.prepare("INSERT INTO events (stack, at, type, message) VALUES (?, ?, ?, ?)"),
    events: db.prepare<[number], BillingEvent>("SELECT * FROM events ORDER BY id DESC LIMIT ?"),
    eventsOf: db.prepare<[string, number], BillingEvent>("SELECT * FROM events WHERE stack = ? ORDER BY id DESC LIMIT ?"),
    suspension: db.prepare<[string], { since: string; step: string; step_at: string }>("SELECT since, step, step_at FROM suspensions WHERE stack = ?"),
    setSuspension: db.prepare(
      "INSERT INTO suspensions (stack, since, step, step_at) VALUES (?, ?, ?, ?) ON CONFLICT (stack) DO UPDATE SET since = excluded.since, step = excluded.step, step_at = excluded.step_at",
    ),
    clearSuspension: db.prepare("DELETE FROM suspensions WHERE stack = ?"),
    lastSlot: db.prepare<[string, string, string], { last_slot: bigint }>("SELECT last_slot FROM schedules WHERE stack = ? AND instance = ? AND kind = ?"),
    ownBackups: db.prepare<[string, string], { archive: string; taken_at: string }>(
      "SELECT archive, taken_at FROM backups WHERE stack = ? AND instance = ? ORDER BY taken_at, archive",
    ),
    recordBackup: db.prepare("INSERT OR IGNORE INTO backups (archive, stack, instance, taken_at) VALUES (?, ?, ?, ?)"),
    forgetBackup: db.prepare("DELETE FROM backups WHERE archive = ?"),
    setLastSlot: db.prepare(
      "INSERT INTO schedules (stack, instance, kind, last_slot) VALUES (?, ?, ?, ?) ON CONFLICT (stack, instance, kind) DO UPDATE SET last_slot = excluded.last_slot",
    ),
  };

  const account = (stack: string): Account | undefined => {
    const r = q.account.get(stack);
    return r ? toAccount(r) : undefined;
  };
  let snap: Snapshot | undefined;
  const dataVersion = (): number => Number(db.pragma("data_version", { simple: true }));
  const stackOf = (s: Snapshot, stack: string): Held => {
    let h = s.stacks.get(stack);
    if (!h) s.stacks.set(stack, (h = held(stack)));
    return h;
  };
  /** After this connection created an account: the snapshot holds it. */
  const refresh = (stack: string, rowid: number | bigint): Account => {
    const acc = account(stack) as Account;
    if (snap) Object.assign(stackOf(snap, stack), { account: acc, rowid: Number(rowid), hour: undefined, usage: 0, fee: 0 });
    return acc;
  };
  const ensure = (stack: string, bonusMicro: bigint, at: string): Account => {
    const existing = account(stack);
    if (existing) return existing;
    const { lastInsertRowid } = q.insertAccount.run(stack, at);
    if (bonusMicro > 0n) {
      q.insertEntry.get(stack, at, bonusMicro, "signup-bonus", "signup bonus from the platform file", "signup-bonus");
      q.addBalance.run(bonusMicro, stack);
    }
    return refresh(stack, lastInsertRowid);
  };
  const ensureTx = db.transaction(ensure);

  const postTx = db.transaction((e: Parameters<LedgerRepository["post"]>[0]) => {
    if (e.key !== undefined) {
      const prior = q.entryByKey.get(e.stack, e.key);
      if (prior) return { entry: toEntry(prior), balanceMicro: account(e.stack)?.balanceMicro ?? 0n, created: false };
    }
    const acc = ensure(e.stack, 0n, e.at);
    if (e.amountMicro < 0n && acc.balanceMicro + e.amountMicro < 0n) {
      throw new ProxstackError("points-insufficient", `${e.stack} has ${acc.balanceMicro} micro-points; taking ${-e.amountMicro} would go below zero`, {
        kind: "stall",
        status: 409,
      });
    }
    const row = q.insertEntry.get(e.stack, e.at, e.amountMicro, e.reason, e.note, e.key ?? null) as LedgerRow;
    q.addBalance.run(e.amountMicro, e.stack);
    const h = snap?.stacks.get(e.stack);
    if (h) h.account = account(e.stack) as Account;
    return { entry: toEntry(row), balanceMicro: acc.balanceMicro + e.amountMicro, created: true };
  });

  const load = (version: number): Snapshot => {
    const s: Snapshot = { dataVersion: version, cursor: undefined, stacks: new Map(), meterCount: 0 };
    for (const r of q.meters.iterate()) {
      stackOf(s, r[0]).meters.set(r[1], toMeter(r));
      s.meterCount++;
    }
    for (const [rowid, stack, balance, writtenOff, warned, hour, usage, fee] of q.accountsRaw.iterate()) {
      const account = { stack, balanceMicro: balance, writtenOffMicro: writtenOff, warnedLevel: Number(warned) };
      Object.assign(stackOf(s, stack), { account, rowid: Number(rowid), hour: hour ?? undefined, usage: openAmount(usage), fee: openAmount(fee) });
    }
    const c = q.cursor.get()?.value;
    s.cursor = c === undefined ? undefined : Number(c);
    return s;
  };

  const txOf = (s: Snapshot): TickTx => ({
    cursor: () => s.cursor,
    stack: (stack) => stackOf(s, stack),
    *meters() {
      for (const h of s.stacks.values()) yield* h.meters.values();
    },
    meterCount: () => s.meterCount,
    ensureAccount: ensure,
    putMeter: (m) => {
      q.putMeter.run(...meterRow(m));
      const of = stackOf(s, m.stack).meters;
      if (!of.has(m.instance)) s.meterCount++;
      of.set(m.instance, m);
    },
    charge: (hour, at, charges) => {
      const rows: [number, string][] = [];
      // The stack's first charge of an hour: its open hour's rows get their amounts, and the new hour opens.
      const open = (h: Held): void => {
        if (h.hour !== undefined) {
          if (h.usage !== 0) q.closeRow.run(h.usage, h.stack, "usage", h.hour);
          if (h.fee !== 0) q.closeRow.run(h.fee, h.stack, "domain-fee", h.hour);
        }
        [h.hour, h.usage, h.fee] = [hour, 0, 0];
      };
      const add = (open: number, stack: string, reason: "usage" | "domain-fee", amount: number): number => {
        if (amount <= 0) return open;
        if (open !== 0) return open - amount;
        const note = reason === "usage" ? "running instances" : "paid domains";
        return openAmount((q.openRow.get(stack, at, BigInt(-amount), reason, note, hour) as { amount_micro: bigint }).amount_micro);
      };
      let low = Number.MAX_SAFE_INTEGER;
      let high = 0;
      for (const c of charges) {
        const h = c.of as Held;
        const acc = h.account;
        if (!acc) throw new ProxstackError("ledger-corrupt", `billing charged ${h.stack}, which has no account`, { kind: "bug" });
        const taken = c.usageMicro + c.feeMicro;
        if (taken > 0) {
          if (h.hour !== hour) open(h);
          h.usage = add(h.usage, h.stack, "usage", c.usageMicro);
          h.fee = add(h.fee, h.stack, "domain-fee", c.feeMicro);
          rows.push([h.rowid, `[${h.usage},${h.fee}]`]);
          if (h.rowid < low) low = h.rowid;
          if (h.rowid > high) high = h.rowid;
          acc.balanceMicro -= BigInt(taken);
        }
        if (c.writtenOffMicro > 0) {
          q.addWrittenOff.run(c.writtenOffMicro, h.stack);
          acc.writtenOffMicro += BigInt(c.writtenOffMicro);
        }
        if (c.warnedLevel !== acc.warnedLevel) {
          q.setWarned.run(c.warnedLevel, h.stack);
          acc.warnedLevel = c.warnedLevel;
        }
      }
      if (rows.length === 0) return;
      if (high - low >= 4 * rows.length + 1024) {
        // Accounts are numbered densely; should they not be, one statement per row rather than an array mostly of nulls.
        for (const [rowid, amounts] of rows) q.takeCharges.run({ charges: `[${amounts}]`, low: rowid, hour });
        return;
      }
      // One array indexed by rowid − low (null where a stack has no charge), so SQLite finds each row by its key.
      const dense: string[] = new Array<string>(high - low + 1).fill("null");
      for (const [rowid, amounts] of rows) dense[rowid - low] = amounts;
      q.takeCharges.run({ charges: `[${dense.join(",")}]`, low, hour });
    },
    setCursor: (minute) => {
      q.setCursor.run(String(minute));
      s.cursor = minute;
    },
  });

  /** A transaction that failed rolled back: so must everything the snapshot took in. */
  const forgetOnFailure = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      snap = undefined;
      throw err;
    }
  };

  const tickTx = db.transaction(<T>(fn: (tx: TickTx) => T): T => {
    const version = dataVersion();
    if (snap?.dataVersion !== version) snap = load(version);
    return fn(txOf(snap));
  });

  return {
    epochMinute,
    account,
    accounts: () => q.accounts.all().map(toAccount),
    ensureAccount: (stack, bonusMicro, at) => forgetOnFailure(() => ensureTx.immediate(stack, bonusMicro, at)),
    post: (e) => forgetOnFailure(() => postTx.immediate(e)),
    entries: (stack, opts = {}) => q.entries.all(stack, opts.beforeId ?? 9_223_372_036_854_775_807n, Math.min(opts.limit ?? 50, 1000)).map(toEntry),
    ledgerSum: (stack) => q.sum.get(stack)?.s ?? 0n,
    meters: (stack) => (stack === undefined ? q.meters.all() : q.metersOf.all(stack)).map(toMeter),
    cursor: () => {
      const c = q.cursor.get()?.value;
      return c === undefined ? undefined : Number(c);
    },
    tick: (fn) => forgetOnFailure(() => tickTx.immediate(fn) as ReturnType<typeof fn>),
    addEvent: (stack, at, type, message) => {
      q.addEvent.run(stack, at, type, message);
    },
    events: (stack, limit = 100) => (stack === undefined ? q.events.all(limit) : q.eventsOf.all(stack, limit)),
    suspensionStep: (stack) => {
      const r = q.suspension.get(stack);
      if (!r) return undefined;
      if (!(SUSPENSION_STEPS as readonly string[]).includes(r.step))
        throw new ProxstackError("ledger-corrupt", `suspension of ${stack} has an unknown step '${r.step}'`);
      return { since: r.since, step: r.step as SuspensionStep, stepAt: r.step_at };
    },
    setSuspensionStep: (stack, since, step, stepAt) => {
      if (step === undefined) q.clearSuspension.run(stack);
      else q.setSuspension.run(stack, since, step, stepAt ?? since);
    },
    lastSlot: (stack, instance, kind) => {
      const v = q.lastSlot.get(stack, instance, kind)?.last_slot;
      return v === undefined ? undefined : Number(v);
    },
    setLastSlot: (stack, instance, kind, minute) => {
      q.setLastSlot.run(stack, instance, kind, BigInt(minute));
    },
    ownBackups: (stack, instance) => q.ownBackups.all(stack, instance).map((r) => ({ archive: r.archive, takenAt: r.taken_at })),
    recordBackup: (stack, instance, archive, takenAt) => {
      q.recordBackup.run(archive, stack, instance, takenAt);
    },
    forgetBackup: (archive) => {
      q.forgetBackup.run(archive);
    },
    close: () => db.close(),
  };
}
