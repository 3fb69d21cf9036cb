// The portal's view of billing's ledger: balances, entries with the balance after each, credits and grants as ledger rows.
import type { LedgerEntry as BillingEntry, LedgerRepository } from "../billing/ledger-repository.js";
import type { Clock } from "../lib/clock.js";
import type { LedgerEntry, PointsLedger } from "../portal/points-ledger.js";

/** Entries are paged from this many rows at most; a user's ledger has an hourly usage row, so years fit. */
const MAX_ROWS = 1000;

/**
 * Adapts billing's repository (bigint micro-points) to the portal's `PointsLedger` (safe integers).
 * Every write goes through `repo.post`, so the balance moves in the same transaction as its row.
 */
export function pointsLedgerOf(repo: LedgerRepository, clock: Clock): PointsLedger {
  const toPortal = (e: BillingEntry, balanceAfter: bigint): LedgerEntry => ({
    id: Number(e.id),
    user: e.stack,
    amountMicro: Number(e.amountMicro),
    reason: e.reason,
    note: e.note === "" ? undefined : e.note,
    balanceMicro: Number(balanceAfter),
    at: e.at,
  });
  return {
    balanceMicro: (user) => Number(repo.account(user)?.balanceMicro ?? 0n),
    credit(user, amountMicro, reason, opts = {}) {
      const r = repo.post({
        stack: user,
        amountMicro: BigInt(amountMicro),
        reason,
        note: opts.note ?? "",
        at: (opts.at ?? clock.now()).toISOString(),
        ...(opts.idempotencyKey ? { key: opts.idempotencyKey } : {}),
      });
      return toPortal(r.entry, r.balanceMicro);
    },
    entries(user, page) {
      const rows = repo.entries(user, { limit: MAX_ROWS });
      // Newest first: the balance after each row is the current balance less every newer row.
      let after = repo.account(user)?.balanceMicro ?? 0n;
      const all = rows.map((e) => {
        const entry = toPortal(e, after);
        after -= e.amountMicro;
        return entry;
      });
      return { items: all.slice(page.offset, page.offset + page.limit), total: all.length };
    },
  };
}
