// Points: balance and burn, the ledger with filters (reason, date range), and charges per instance explained.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useSession } from "../context.tsx";
import { formatPoints } from "../logic.ts";
import { useInstances } from "../queries.ts";
import { Loading, SelectField, TextField } from "../ui.tsx";
import { PointsSummary } from "./Dashboard.tsx";
import { filterLedger, type LedgerItem } from "../ledger.ts";

const REASONS: Record<string, string> = {
  "signup-bonus": "Welcome bonus",
  "admin-grant": "Granted by an administrator",
  usage: "Instance usage",
  "domain-fee": "Extra domains",
  refund: "Refund",
};

export function PointsPage() {
  const s = useSession();
  const [reason, setReason] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [search, setSearch] = useState("");
  const ledger = useQuery({ queryKey: ["ledger"], queryFn: () => s.request<{ items: LedgerItem[]; total: number }>("GET", "/api/points/ledger?limit=100") });
  const instances = useInstances();
  const items = ledger.data ? filterLedger(ledger.data.items, { reason, from, to, search }) : [];
  return (
    <>
      <h1>Points</h1>
      <PointsSummary />
      <section className="card" aria-labelledby="per-h">
        <h2 id="per-h">What each instance costs</h2>
        {instances.data ? (
          instances.data.items.length === 0 ? (
            <p>No instances: nothing is charged.</p>
          ) : (
            <ul className="plain">
              {instances.data.items.map((i) => (
                <li key={i.id}>
                  <strong>{i.name}</strong>: {formatPoints(i.pointsPerDay)} points/day — plan {i.plan}
                  {i.hostnames.length > 0 ? `, ${i.hostnames.length} domain(s)` : ""}; charged by the minute while it runs
                  {i.power === "stopped" ? " (stopped: nothing is charged until it runs again)" : ""}.
                </li>
              ))}
            </ul>
          )
        ) : (
          <Loading what="instances" />
        )}
      </section>
      <section className="card" aria-labelledby="ledger-h">
        <h2 id="ledger-h">Ledger</h2>
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the ledger">
          <SelectField label="Kind" value={reason} onChange={(e) => setReason(e.target.value)}>
            <option value="">All</option>
            {Object.entries(REASONS).map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          </SelectField>
          <TextField label="From" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
          <TextField label="To" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
          <TextField label="Note contains" value={search} onChange={(e) => setSearch(e.target.value)} />
        </form>
        {ledger.data ? (
          items.length === 0 ? (
            <p>No entries match.</p>
          ) : (
            <table className="list">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Note</th>
                  <th scope="col" className="num">
                    Amount
                  </th>
                  <th scope="col" className="num">
                    Balance
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.id}>
                    <td data-label="When">
                      <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time>
                    </td>
                    <td data-label="Kind">{REASONS[e.reason] ?? e.reason}</td>
                    <td data-label="Note">{e.note ?? ""}</td>
                    <td data-label="Amount" className={`num ${e.amount < 0 ? "neg" : "pos"}`}>
                      {e.amount > 0 ? "+" : ""}
                      {formatPoints(e.amount)}
                    </td>
                    <td data-label="Balance" className="num">
                      {formatPoints(e.balance)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        ) : (
          <Loading what="the ledger" />
        )}
      </section>
    </>
  );
}
