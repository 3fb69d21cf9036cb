// Admin: users (search, ban, role, grant points), every stack with its condition and last error, with retry, the stacks
// repository's last sync, and a stack file's rollback (preview the check report, then confirm to commit).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { fieldError, formError } from "../api.ts";
import { useSession } from "../context.tsx";
import { formatPoints, rollbackLines, rollbackNeeds, syncSummary, type RollbackResult, type SyncStatus } from "../logic.ts";
import { Loading, Notice, SelectField, TextField } from "../ui.tsx";

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

function SyncSection() {
  const s = useSession();
  const sync = useQuery({
    queryKey: ["admin-sync"],
    queryFn: () => s.request<{ sync: SyncStatus | null }>("GET", "/api/admin/sync"),
    refetchInterval: 30_000,
  });
  const sum = sync.data ? syncSummary(sync.data.sync) : undefined;
  const st = sync.data?.sync;
  return (
    <section className="card" aria-labelledby="sync-h">
      <h2 id="sync-h">Stacks repository</h2>
      {sync.error ? <Notice kind="error">{sync.error.message}</Notice> : null}
      {sum ? (
        <>
          <Notice kind={sum.kind}>
            <strong>{sum.title}</strong>
            {sum.files.length > 0 ? (
              <>
                {" "}
                Files in conflict:{" "}
                {sum.files.map((f, i) => (
                  <span key={f}>
                    {i > 0 ? ", " : null}
                    <code>{f}</code>
                  </span>
                ))}
                .
              </>
            ) : null}
            {sum.detail ? <p>{sum.detail}</p> : null}
            {st?.conflict?.pushedTo ? (
              <p>
                Local side pushed to <code>{st.conflict.pushedTo}</code>.
              </p>
            ) : null}
          </Notice>
          {st ? (
            <p className="small muted" data-sync-state={st.state}>
              Last sync: <time dateTime={st.at}>{new Date(st.at).toLocaleString()}</time>
              {st.lastSuccessAt && st.lastSuccessAt !== st.at ? (
                <>
                  {" "}
                  · last successful: <time dateTime={st.lastSuccessAt}>{new Date(st.lastSuccessAt).toLocaleString()}</time>
                </>
              ) : null}
              {st.branch ? ` · branch ${st.branch}` : null}
              {st.remote ? ` · remote ${st.remote}` : null}
              {st.head ? ` · head ${st.head.slice(0, 12)}` : null}
            </p>
          ) : null}
        </>
      ) : sync.error ? null : (
        <Loading what="sync status" />
      )}
    </section>
  );
}

function RollbackSection({ stacks, stack, setStack }: { stacks: string[]; stack: string; setStack: (s: string) => void }) {
  const s = useSession();
  const qc = useQueryClient();
  const [to, setTo] = useState("");
  const [allowReplace, setAllowReplace] = useState(false);
  const [allowDestroy, setAllowDestroy] = useState(false);
  const send = (v: { stack: string; to: string; confirm?: boolean }) =>
    s.request<RollbackResult>("POST", `/api/admin/stacks/${encodeURIComponent(v.stack)}/rollback`, {
      to: v.to,
      ...(v.confirm ? { confirm: true, ...(allowReplace ? { allowReplace: true } : {}), ...(allowDestroy ? { allowDestroy: true } : {}) } : {}),
    });
  const preview = useMutation({ mutationFn: (v: { stack: string; to: string }) => send(v) });
  const commit = useMutation({
    mutationFn: () => send({ stack, to, confirm: true }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["admin-stacks"] }),
  });
  const reset = () => {
    preview.reset();
    commit.reset();
    setAllowReplace(false);
    setAllowDestroy(false);
  };
  // A preview only stands for the stack and revision it was made for (a row's "Roll back" may have chosen another).
  const current = preview.variables?.stack === stack && preview.variables.to === to;
  const plan = current ? preview.data : undefined;
  const needs = plan ? rollbackNeeds(plan.report) : { replace: false, destroy: false };
  // Violations are refused whatever the allow flags say.
  const blocked = plan ? (plan.report.violations?.length ?? 0) > 0 : false;
  const err = current ? formError(preview.error, ["to"]) : undefined;
  const commitErr = formError(commit.error, []);
  return (
    <section className="card" aria-labelledby="rollback-h">
      <h2 id="rollback-h" tabIndex={-1}>
        Roll back a stack
      </h2>
      <p className="small muted">Restores a stack file as it was at a revision (a commit id, a branch or HEAD~N) with a new commit. Preview first.</p>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          reset();
          preview.mutate({ stack, to });
        }}
      >
        <SelectField
          label="Stack"
          value={stack}
          onChange={(e) => {
            setStack(e.target.value);
            reset();
          }}
          required
        >
          <option value="">Choose a stack</option>
          {stacks.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Revision"
          value={to}
          onChange={(e) => {
            setTo(e.target.value);
            reset();
          }}
          error={current ? fieldError(preview.error, "to") : undefined}
          placeholder="HEAD~1"
          required
        />
        <button type="submit" className="secondary" disabled={!stack || !to || preview.isPending}>
          Preview rollback
        </button>
        {err ? (
          <span className="error" role="alert">
            {err}
          </span>
        ) : null}
      </form>
      {plan ? (
        <div aria-live="polite" data-rollback-preview={plan.stack}>
          <h3>
            {plan.file} as of {plan.to} <span className="small muted">({plan.commit.slice(0, 12)})</span>
          </h3>
          <ul>
            {rollbackLines(plan).map((l, i) => (
              <li key={i}>{l}</li>
            ))}
          </ul>
          {plan.report.violations && plan.report.violations.length > 0 ? (
            <Notice kind="error">
              The restored file is refused:
              <ul>
                {plan.report.violations.map((v, i) => (
                  <li key={i}>
                    {v.path}:{v.line}:{v.col} {v.message}
                  </li>
                ))}
              </ul>
            </Notice>
          ) : null}
          {plan.changes && !commit.data ? (
            <form
              className="inline"
              onSubmit={(e) => {
                e.preventDefault();
                commit.mutate();
              }}
            >
              {needs.replace ? (
                <label>
                  <input type="checkbox" checked={allowReplace} onChange={(e) => setAllowReplace(e.target.checked)} /> Allow replacement (
                  {plan.report.replacements})
                </label>
              ) : null}
              {needs.destroy ? (
                <label>
                  <input type="checkbox" checked={allowDestroy} onChange={(e) => setAllowDestroy(e.target.checked)} /> Allow destroy ({plan.report.destroys})
                </label>
              ) : null}
              <button type="submit" disabled={blocked || (needs.replace && !allowReplace) || (needs.destroy && !allowDestroy) || commit.isPending}>
                Confirm rollback
              </button>
            </form>
          ) : null}
          {commitErr ? <Notice kind="error">{commitErr}</Notice> : null}
          {commit.data?.committed ? (
            <Notice kind="info">
              Rolled back {commit.data.file} to {commit.data.to}: new commit <code>{commit.data.committed}</code>.
            </Notice>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

export function AdminPage() {
  const s = useSession();
  const qc = useQueryClient();
  const [search, setSearch] = useState("");
  const [rollbackStack, setRollbackStack] = useState("");
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
                    </button>{" "}
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => {
                        setRollbackStack(st.name);
                        document.getElementById("rollback-h")?.focus();
                      }}
                      aria-label={`Roll back ${st.name}`}
                    >
                      Roll back
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
      <RollbackSection stacks={stacks.data?.items.map((st) => st.name) ?? []} stack={rollbackStack} setStack={setRollbackStack} />
      <SyncSection />
    </>
  );
}
