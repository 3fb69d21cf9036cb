// Billing's ledger (billing/ledger-repository.ts, bigint micro-points) as the PointsLedger the portal reads and writes.
import type { LedgerRepository } from "../billing/ledger-repository.js";
import { ProxstackError } from "../lib/errors.js";
import type { LedgerEntry, PointsLedger } from "../portal/points-ledger.js";

const num = (v: bigint): number => Number(v);

export function portalLedger(repo: LedgerRepository, now: () => Date = () => new Date()): PointsLedger {
  const balanceMicro = (user: string) => num(repo.account(user)?.balanceMicro ?? 0n);
  return {
    balanceMicro,
    credit(user, amountMicro, reason, opts = {}) {
      if (!Number.isSafeInteger(amountMicro)) throw new ProxstackError("points-not-whole", "amount must be a whole number of micro-points", { kind: "bug" });
      const at = (opts.at ?? now()).toISOString();
      const r = repo.post({
        stack: user,
        amountMicro: BigInt(amountMicro),
        reason,
        note: opts.note ?? "",
        at,
        ...(opts.idempotencyKey ? { key: opts.idempotencyKey } : {}),
      });
      // The balance after this entry: the current one when it was just written; recomputed for an idempotent repeat.
      const after = r.created
        ? num(r.balanceMicro)
        : (entriesOf(user, 0, Number.MAX_SAFE_INTEGER).items.find((e) => e.id === num(r.entry.id))?.balanceMicro ?? num(r.balanceMicro));
      return {
        id: num(r.entry.id),
        user,
        amountMicro: num(r.entry.amountMicro),
        reason: r.entry.reason,
        note: r.entry.note || undefined,
        balanceMicro: after,
        at: r.entry.at,
      };
    },
    entries: (user, page) => entriesOf(user, page.offset, page.limit),
  };

  /** Newest first, each with the balance after it (walked back from the current balance). */
  function entriesOf(user: string, offset: number, limit: number): { items: LedgerEntry[]; total: number } {
    const all: ReturnType<LedgerRepository["entries"]> = [];
    let before: bigint | undefined;
    for (;;) {
      const chunk = repo.entries(user, { limit: 1000, ...(before !== undefined ? { beforeId: before } : {}) });
      all.push(...chunk);
      if (chunk.length < 1000) break;
      before = chunk[chunk.length - 1]!.id;
    }
    let balance = repo.account(user)?.balanceMicro ?? 0n;
    const items: LedgerEntry[] = [];
    for (const [i, e] of all.entries()) {
      if (i >= offset && items.length < limit) {
        items.push({ id: num(e.id), user, amountMicro: num(e.amountMicro), reason: e.reason, note: e.note || undefined, balanceMicro: num(balance), at: e.at });
      }
      balance -= e.amountMicro;
    }
    return { items, total: all.length };
  }
}
