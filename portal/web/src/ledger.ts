// Ledger filters applied in the browser (the API pages newest first; the filters narrow what was loaded).
export interface LedgerItem {
  id: number;
  amount: number;
  amountMicro: number;
  reason: string;
  note: string | null;
  balance: number;
  at: string;
}

export interface LedgerFilter {
  reason: string;
  /** yyyy-mm-dd, inclusive, in UTC; "" for no bound. */
  from: string;
  to: string;
  search: string;
}

export function filterLedger(items: readonly LedgerItem[], f: LedgerFilter): LedgerItem[] {
  const from = f.from ? Date.parse(`${f.from}T00:00:00Z`) : -Infinity;
  const to = f.to ? Date.parse(`${f.to}T00:00:00Z`) + 86_400_000 : Infinity;
  const needle = f.search.trim().toLowerCase();
  return items.filter((e) => {
    const t = Date.parse(e.at);
    return (!f.reason || e.reason === f.reason) && t >= from && t < to && (!needle || (e.note ?? "").toLowerCase().includes(needle));
  });
}
