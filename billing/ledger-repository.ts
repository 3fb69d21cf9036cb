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

/** One billed component of an instance: its rate and the cumulative minutes and charge of its current segment. */
export interface MeterComponent {
  rateMicroPerDay: number;
  minutes: number;
  chargedMicro: number;
}

/** What billing knows of one instance: billed up to a minute, and whether it was running when last seen. */
export interface Meter {
  stack: string;
  instance: string;
  /** Epoch minute up to which the instance is billed (or known not to have run). */
  billedUntil: number;
  running: boolean;
  plan: MeterComponent;
  domains: MeterComponent;
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

/** The writes a tick makes, all inside one BEGIN IMMEDIATE transaction. */
export interface TickTx {
  meters(): Map<string, Meter>;
  /** Every account, read once per tick. */
  accounts(): Map<string, Account>;
  putMeter(m: Meter): void;
  account(stack: string): Account | undefined;
  /** Creates the account with its signup bonus (one ledger row) when it does not exist. */
  ensureAccount(stack: string, bonusMicro: bigint, at: string): Account;
  /** Adds `amountMicro` (negative) to the stack's row for `reason` in `hour`, and to its balance. */
  chargeHour(stack: string, reason: "usage" | "domain-fee", hour: string, amountMicro: bigint, at: string): void;
  addWrittenOff(stack: string, amountMicro: bigint): void;
  setWarnedLevel(stack: string, level: number): void;
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
CREATE TABLE IF NOT EXISTS meters (
  stack TEXT NOT NULL, instance TEXT NOT NULL, billed_until INTEGER NOT NULL, running INTEGER NOT NULL,
  plan_rate INTEGER NOT NULL, plan_minutes INTEGER NOT NULL, plan_charged INTEGER NOT NULL,
  domain_rate INTEGER NOT NULL, domain_minutes INTEGER NOT NULL, domain_charged INTEGER NOT NULL,
  PRIMARY KEY (stack, instance)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, stack TEXT NOT NULL, at TEXT NOT NULL, type TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_stack ON events (stack, id);
CREATE TABLE IF NOT EXISTS suspensions (stack TEXT PRIMARY KEY, since TEXT NOT NULL, step TEXT NOT NULL, step_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS backups (archive TEXT PRIMARY KEY, stack TEXT NOT NULL, instance TEXT NOT NULL, taken_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedules (stack TEXT NOT NULL, instance TEXT NOT NULL, kind TEXT NOT NULL, last_slot INTEGER NOT NULL, PRIMARY KEY (stack, instance, kind));
`;

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
type MeterRaw = [string, string, number, number, number, number, number, number, number, number];

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
  for (let i = 2; i < 10; i++) {
    if (!Number.isSafeInteger(r[i])) throw new ProxstackError("meter-corrupt", `meter ${r[0]}/${r[1]} holds a value that is not a safe integer`);
  }
  return {
    stack: r[0],
    instance: r[1],
    billedUntil: r[2],
    running: r[3] === 1,
    plan: { rateMicroPerDay: r[4], minutes: r[5], chargedMicro: r[6] },
    domains: { rateMicroPerDay: r[7], minutes: r[8], chargedMicro: r[9] },
  };
}

const METER_COLUMNS = "stack, instance, billed_until, running, plan_rate, plan_minutes, plan_charged, domain_rate, domain_minutes, domain_charged";

export const meterKey = (stack: string, instance: string): string => `${stack}\u0000${instance}`;

/** Opens (creating) the billing database; `now` dates the billing epoch of a new database. */
export function openLedgerRepository(file: string, opts: { now: Date }): LedgerRepository {
  const db = new Database(file);
  // Two processes ticking at once: the second waits for the first's transaction, then finds nothing left to bill.
  // Set first, so even switching a new file to WAL waits instead of failing.
  db.pragma("busy_timeout = 10000");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.defaultSafeIntegers(true);
  db.exec(SCHEMA);
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch_minute', ?)").run(String(Math.floor(opts.now.getTime() / 60_000)));
  const epochMinute = Number((db.prepare("SELECT value FROM meta WHERE key = 'epoch_minute'").get() as { value: string }).value);

  const q = {
    account: db.prepare<[string], AccountRow>("SELECT * FROM accounts WHERE stack = ?"),
    accounts: db.prepare<[], AccountRow>("SELECT * FROM accounts ORDER BY stack"),
    insertAccount: db.prepare("INSERT OR IGNORE INTO accounts (stack, created_at) VALUES (?, ?)"),
    addBalance: db.prepare("UPDATE accounts SET balance_micro = balance_micro + ? WHERE stack = ?"),
    addWrittenOff: db.prepare("UPDATE accounts SET written_off_micro = written_off_micro + ? WHERE stack = ?"),
    setWarned: db.prepare("UPDATE accounts SET warned_level = ? WHERE stack = ?"),
    insertEntry: db.prepare<[string, string, bigint, string, string, string | null], LedgerRow>(
      "INSERT INTO ledger (stack, at, amount_micro, reason, note, key) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
    ),
    entryByKey: db.prepare<[string, string], LedgerRow>("SELECT * FROM ledger WHERE stack = ? AND key = ?"),
    chargeHour: db.prepare(
      `INSERT INTO ledger (stack, at, amount_micro, reason, note, hour) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (stack, reason, hour) WHERE hour IS NOT NULL DO UPDATE SET amount_micro = amount_micro + excluded.amount_micro`,
    ),
    entries: db.prepare<[string, bigint, number], LedgerRow>("SELECT * FROM ledger WHERE stack = ? AND id < ? ORDER BY id DESC LIMIT ?"),
    sum: db.prepare<[string], { s: bigint | null }>("SELECT SUM(amount_micro) AS s FROM ledger WHERE stack = ?"),
    meters: db.prepare<[], MeterRaw>(`SELECT ${METER_COLUMNS} FROM meters ORDER BY stack, instance`).raw(true).safeIntegers(false),
    metersOf: db.prepare<[string], MeterRaw>(`SELECT ${METER_COLUMNS} FROM meters WHERE stack = ? ORDER BY instance`).raw(true).safeIntegers(false),
    putMeter: db.prepare<MeterRaw>(
      `INSERT INTO meters (${METER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (stack, instance) DO UPDATE SET billed_until = excluded.billed_until, running = excluded.running,
         plan_rate = excluded.plan_rate, plan_minutes = excluded.plan_minutes, plan_charged = excluded.plan_charged,
         domain_rate = excluded.domain_rate, domain_minutes = excluded.domain_minutes, domain_charged = excluded.domain_charged`,
    ),
    updateMeter: db.prepare(
      `UPDATE meters SET billed_until = ?, running = ?, plan_rate = ?, plan_minutes = ?, plan_charged = ?, domain_rate = ?, domain_minutes = ?, domain_charged = ?
       WHERE stack = ? AND instance = ?`,
    ),
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
  const ensure = (stack: string, bonusMicro: bigint, at: string): Account => {
    const existing = account(stack);
    if (existing) return existing;
    q.insertAccount.run(stack, at);
    if (bonusMicro > 0n) {
      q.insertEntry.get(stack, at, bonusMicro, "signup-bonus", "signup bonus from the platform file", "signup-bonus");
      q.addBalance.run(bonusMicro, stack);
    }
    return account(stack) as Account;
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
    return { entry: toEntry(row), balanceMicro: acc.balanceMicro + e.amountMicro, created: true };
  });

  const tx: TickTx = {
    meters: () => {
      const out = new Map<string, Meter>();
      for (const r of q.meters.iterate()) out.set(meterKey(r[0], r[1]), toMeter(r));
      return out;
    },
    putMeter: (m) => {
      // Most writes move an existing meter: a plain UPDATE by key is cheaper than an upsert.
      const moved = q.updateMeter.run(
        m.billedUntil,
        m.running ? 1 : 0,
        m.plan.rateMicroPerDay,
        m.plan.minutes,
        m.plan.chargedMicro,
        m.domains.rateMicroPerDay,
        m.domains.minutes,
        m.domains.chargedMicro,
        m.stack,
        m.instance,
      );
      if (moved.changes > 0) return;
      q.putMeter.run(
        m.stack,
        m.instance,
        m.billedUntil,
        m.running ? 1 : 0,
        m.plan.rateMicroPerDay,
        m.plan.minutes,
        m.plan.chargedMicro,
        m.domains.rateMicroPerDay,
        m.domains.minutes,
        m.domains.chargedMicro,
      );
    },
    accounts: () => new Map(q.accounts.all().map((r) => [r.stack, toAccount(r)])),
    account,
    ensureAccount: ensure,
    chargeHour: (stack, reason, hour, amountMicro, at) => {
      q.chargeHour.run(stack, at, amountMicro, reason, reason === "usage" ? "running instances" : "paid domains", hour);
      q.addBalance.run(amountMicro, stack);
    },
    addWrittenOff: (stack, amountMicro) => {
      q.addWrittenOff.run(amountMicro, stack);
    },
    setWarnedLevel: (stack, level) => {
      q.setWarned.run(BigInt(level), stack);
    },
  };

  return {
    epochMinute,
    account,
    accounts: () => q.accounts.all().map(toAccount),
    ensureAccount: (stack, bonusMicro, at) => ensureTx.immediate(stack, bonusMicro, at),
    post: (e) => postTx.immediate(e),
    entries: (stack, opts = {}) => q.entries.all(stack, opts.beforeId ?? 9_223_372_036_854_775_807n, Math.min(opts.limit ?? 50, 1000)).map(toEntry),
    ledgerSum: (stack) => q.sum.get(stack)?.s ?? 0n,
    meters: (stack) => (stack === undefined ? q.meters.all() : q.metersOf.all(stack)).map(toMeter),
    tick: (fn) => db.transaction(() => fn(tx)).immediate(),
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
