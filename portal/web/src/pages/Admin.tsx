// Admin: users (search, ban, role, grant points) and every stack with its condition and last error, with retry.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { fieldError, formError } from "../api.ts";
import { useSession } from "../context.tsx";
import { formatPoints } from "../logic.ts";
import { Loading, Notice, TextField } from "../ui.tsx";

interface AdminUser {
  id: number;
  email: string;
  name: string;
  role: "user" | "admin";
  verified: boolean;
  stack: string | null;
  banned: boolean;
  banReason: string | null;
  balance: number;
}
interface StackRow {
  name: string;
  condition: string;
  reason: string;
  message: string;
  owner: string | null;
  lastError: string | null;
  updatedAt: string;
}

function UserRow({ u }: { u: AdminUser }) {
  const s = useSession();
  const qc = useQueryClient();
  const done = () => void qc.invalidateQueries({ queryKey: ["admin-users"] });
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [banReason, setBanReason] = useState("");
  const ban = useMutation({
    mutationFn: () => s.request("PUT", `/api/admin/users/${u.id}/ban`, u.banned ? { banned: false } : { banned: true, reason: banReason }),
    onSuccess: done,
  });
  const role = useMutation({
    mutationFn: () => s.request("PUT", `/api/admin/users/${u.id}/role`, { role: u.role === "admin" ? "user" : "admin" }),
    onSuccess: done,
  });
  const grant = useMutation({
    mutationFn: () => s.request("POST", `/api/admin/users/${u.id}/points`, { amount: Number(amount), reason }),
    onSuccess: () => {
      setAmount("");
      setReason("");
      done();
    },
  });
  return (
    <li className="card inset" data-user={u.email}>
      <div className="row spread">
        <span>
          <strong>{u.name}</strong> &lt;{u.email}&gt; · {u.role} · stack {u.stack ?? "—"} · {formatPoints(u.balance)} points{" "}
          {u.banned ? <span className="badge badge-error">Banned: {u.banReason}</span> : null}
        </span>
        <button type="button" className="secondary" onClick={() => role.mutate()} aria-label={`${u.role === "admin" ? "Make user" : "Make admin"}: ${u.email}`}>
          {u.role === "admin" ? "Make user" : "Make admin"}
        </button>
      </div>
      <details>
        <summary>Ban, grant points</summary>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            ban.mutate();
          }}
        >
          {u.banned ? null : (
            <TextField label="Ban reason" value={banReason} onChange={(e) => setBanReason(e.target.value)} error={fieldError(ban.error, "reason")} />
          )}
          <button type="submit" className="secondary">
            {u.banned ? "Unban" : "Ban"}
          </button>
          {formError(ban.error, ["reason"]) ? (
            <span className="error" role="alert">
              {formError(ban.error, ["reason"])}
            </span>
          ) : null}
        </form>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            grant.mutate();
          }}
        >
          <TextField
            label="Points"
            type="number"
            step="any"
            value={amount}
            onChange={(e) => setAmount(e.target.value)}
            error={fieldError(grant.error, "amount")}
          />
          <TextField label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} error={fieldError(grant.error, "reason")} />
          <button type="submit" className="secondary">
            Grant
          </button>
          {formError(grant.error, ["amount", "reason"]) ? (
            <span className="error" role="alert">
              {formError(grant.error, ["amount", "reason"])}
            </span>
          ) : null}
        </form>
      </details>
    </li>
  );
}

export function AdminPage() {
  const s = useSession();
  const qc = useQueryClient();
  const [search, setSearch] = useState("");
  const users = useQuery({
    queryKey: ["admin-users", search],
    queryFn: () => s.request<{ items: AdminUser[]; total: number }>("GET", `/api/admin/users?limit=50&search=${encodeURIComponent(search)}`),
  });
  const stacks = useQuery({ queryKey: ["admin-stacks"], queryFn: () => s.request<{ items: StackRow[] }>("GET", "/api/admin/stacks"), refetchInterval: 10_000 });
  const retry = useMutation({
    mutationFn: (name: string) => s.request("POST", `/api/admin/stacks/${name}/retry`),
    onSettled: () => void qc.invalidateQueries({ queryKey: ["admin-stacks"] }),
  });
  return (
    <>
      <h1>Admin</h1>
      <section className="card" aria-labelledby="users-h">
        <h2 id="users-h">Users</h2>
        <form role="search" onSubmit={(e) => e.preventDefault()}>
          <TextField label="Search users" type="search" value={search} onChange={(e) => setSearch(e.target.value)} hint="By e-mail or name." />
        </form>
        {users.data ? (
          <ul className="plain">
            {users.data.items.map((u) => (
              <UserRow key={u.id} u={u} />
            ))}
          </ul>
        ) : (
          <Loading what="users" />
        )}
      </section>
      <section className="card" aria-labelledby="stacks-h">
        <h2 id="stacks-h">Stacks</h2>
        {retry.error ? <Notice kind="error">{retry.error.message}</Notice> : null}
        {stacks.data ? (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Stack</th>
                <th scope="col">Owner</th>
                <th scope="col">Condition</th>
                <th scope="col">Last error</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {stacks.data.items.map((st) => (
                <tr key={st.name}>
                  <td data-label="Stack">{st.name}</td>
                  <td data-label="Owner">{st.owner ?? "—"}</td>
                  <td data-label="Condition">
                    <span className={`badge badge-${st.condition === "Ready" ? "running" : st.condition === "Stalled" ? "error" : "provisioning"}`}>
                      {st.condition}
                    </span>{" "}
                    <span className="small muted">{st.reason}</span>
                  </td>
                  <td data-label="Last error">{st.lastError ?? "—"}</td>
                  <td data-label="Action">
                    <button type="button" className="secondary" onClick={() => retry.mutate(st.name)} aria-label={`Retry ${st.name}`}>
                      Retry
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Loading what="stacks" />
        )}
      </section>
    </>
  );
}
