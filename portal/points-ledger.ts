// What the portal needs from the points ledger (billing owns it): balances, entries, grants and the signup bonus.

/** 1 point = 1,000,000 micro-points; the ledger never uses floating point. */
export const MICRO = 1_000_000;

export type LedgerReason = "signup-bonus" | "admin-grant" | "usage" | "domain-fee" | "refund";

export interface LedgerEntry {
  id: number;
  /** The user's stack name: the ledger's key for a user. */
  user: string;
  /** Micro-points; negative takes points. */
  amountMicro: number;
  reason: LedgerReason;
  note: string | undefined;
  /** Balance after this entry. */
  balanceMicro: number;
  at: string;
}

export interface PointsLedger {
  /** Current balance in micro-points (0 for a user with no entries). */
  balanceMicro(user: string): number;
  /**
   * Appends one entry and updates the balance in the same transaction. `idempotencyKey`, when given,
   * makes a repeated call a no-op that returns the first entry (the signup bonus is credited once).
   */
  credit(user: string, amountMicro: number, reason: LedgerReason, opts?: { note?: string; idempotencyKey?: string; at?: Date }): LedgerEntry;
  /** Entries newest first. */
  entries(user: string, page: { offset: number; limit: number }): { items: LedgerEntry[]; total: number };
}
