// One instance: status, IP, uptime and live charts; provisioning steps; power, reboot, resize, delete (typed confirmation);
// domains with a live hostname preview; snapshots and backups; the terminal; the VPN config; its YAML and git history.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { fieldError, formError } from "../api.ts";
import { useMode, useSession, useUser } from "../context.tsx";
import { useSteps } from "../events.ts";
import { deleteConfirmed, formatPoints, hostnamePreview, nextDomainPrice, runwayCheck, subdomainProblem, type Instance } from "../logic.ts";
import { usePlans, usePoints } from "../queries.ts";
import { Loading, Notice, SelectField, StatusBadge, TextField } from "../ui.tsx";
import { StatsPanel } from "./Charts.tsx";
import { PowerButtons } from "./Dashboard.tsx";
import { TerminalPanel } from "./Terminal.tsx";

function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section className="card" aria-labelledby={`${id}-h`} id={id}>
      <h2 id={`${id}-h`}>{title}</h2>
      {children}
    </section>
  );
}

function useAct(id: string) {
  const qc = useQueryClient();
  return () => {
    void qc.invalidateQueries({ queryKey: ["instance", id] });
    void qc.invalidateQueries({ queryKey: ["instances"] });
    void qc.invalidateQueries({ queryKey: ["points"] });
    void qc.invalidateQueries({ queryKey: ["source", id] });
  };
}

function Progress() {
  const steps = useSteps();
  const recent = steps.slice(-12);
  if (recent.length === 0)
    return <p className="muted">No engine activity since this page opened. Changes you make show their steps here as the engine applies them.</p>;
  return (
    <ol className="steps" aria-live="polite">
      {recent.map((s, i) => (
        <li key={i} className={`step step-${s.status}`}>
          <span className="step-mark" aria-hidden="true">
            {s.status === "done" ? "✓" : s.status === "failed" ? "✗" : s.status === "running" ? "…" : "•"}
          </span>{" "}
          {s.text}
          <span className="sr-only"> ({s.status})</span>
        </li>
      ))}
    </ol>
  );
}

function Actions({ inst }: { inst: Instance }) {
  const s = useSession();
  const user = useUser();
  const mode = useMode();
  const navigate = useNavigate();
  const refresh = useAct(inst.id);
  const plans = usePlans();
  const points = usePoints();
  const [plan, setPlan] = useState(inst.plan);
  const [typed, setTyped] = useState("");
  const reboot = useMutation({ mutationFn: () => s.request("POST", `/api/instances/${inst.id}/reboot`), onSettled: refresh });
  const resize = useMutation({ mutationFn: () => s.request("PATCH", `/api/instances/${inst.id}`, { plan }), onSettled: refresh });
  const del = useMutation({
    mutationFn: () => s.request("DELETE", `/api/instances/${inst.id}`),
    onSuccess: async () => {
      refresh();
      await navigate("/");
    },
  });
  const current = plans.data?.items.find((p) => p.name === inst.plan);
  const next = plans.data?.items.find((p) => p.name === plan);
  const check =
    points.data && mode && current && next
      ? runwayCheck(points.data, next.pointsPerDay - current.pointsPerDay, mode.runwayHours, user?.role === "admin")
      : undefined;
  return (
    <Section id="actions" title="Actions">
      <div className="row">
        <PowerButtons inst={inst} />
        <button type="button" className="secondary" onClick={() => reboot.mutate()} disabled={reboot.isPending || inst.state !== "running"}>
          Reboot
        </button>
        {reboot.isSuccess ? <span role="status">Reboot sent.</span> : null}
        {reboot.error ? (
          <span className="error" role="alert">
            {reboot.error.message}
          </span>
        ) : null}
      </div>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          resize.mutate();
        }}
      >
        <SelectField
          label="Resize to plan"
          value={plan}
          onChange={(e) => setPlan(e.target.value)}
          error={fieldError(resize.error, "plan") ?? formError(resize.error, ["plan"])}
          hint={check && plan !== inst.plan ? check.text : undefined}
        >
          {(plans.data?.items ?? []).map((p) => (
            <option key={p.name} value={p.name}>
              {p.name} — {p.cores} core(s), {p.memoryMiB} MiB — {formatPoints(p.pointsPerDay)} points/day
            </option>
          ))}
        </SelectField>
        <button type="submit" className="secondary" disabled={plan === inst.plan || resize.isPending || check?.ok === false}>
          Resize
        </button>
        {resize.isSuccess ? <span role="status">Resize committed; the engine applies it.</span> : null}
      </form>
      <details className="danger">
        <summary>Delete this instance</summary>
        <p>
          Deleting removes the container, its disk and its hostnames. It cannot be undone.{" "}
          {inst.protected ? <strong>This instance is protected: remove the protection in its stack file first.</strong> : null}
        </p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (deleteConfirmed(typed, inst.name)) del.mutate();
          }}
        >
          <TextField
            label={`Type ${inst.name} to confirm`}
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            error={formError(del.error, [])}
          />
          <button type="submit" className="danger" disabled={!deleteConfirmed(typed, inst.name) || del.isPending}>
            Delete instance
          </button>
        </form>
      </details>
    </Section>
  );
}

interface Domain {
  subdomain: string;
  port: number;
  hostname: string;
  pointsPerDay: number;
}

function Domains({ inst }: { inst: Instance }) {
  const s = useSession();
  const mode = useMode();
  const refresh = useAct(inst.id);
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["domains", inst.id], queryFn: () => s.request<{ items: Domain[] }>("GET", `/api/instances/${inst.id}/domains`) });
  const [sub, setSub] = useState("");
  const [port, setPort] = useState("80");
  const after = () => {
    refresh();
    void qc.invalidateQueries({ queryKey: ["domains", inst.id] });
  };
  const add = useMutation({
    mutationFn: () => s.request("POST", `/api/instances/${inst.id}/domains`, { subdomain: sub, port: Number(port) }),
    onSuccess: () => {
      setSub("");
      after();
    },
  });
  const remove = useMutation({ mutationFn: (d: string) => s.request("DELETE", `/api/instances/${inst.id}/domains/${d}`), onSettled: after });
  if (!mode || !list.data)
    return (
      <Section id="domains" title="Domains">
        <Loading what="domains" />
      </Section>
    );
  const price = nextDomainPrice(list.data.items.length, mode.domains);
  const problem = sub ? subdomainProblem(sub) : undefined;
  return (
    <Section id="domains" title="Domains">
      {list.data.items.length === 0 ? (
        <p>No public hostnames yet.</p>
      ) : (
        <ul className="plain">
          {list.data.items.map((d) => (
            <li key={d.subdomain} className="row spread">
              <span>
                <a href={`https://${d.hostname}`} rel="noreferrer" target="_blank">
                  {d.hostname}
                </a>{" "}
                → port {d.port} · {d.pointsPerDay === 0 ? "free" : `${formatPoints(d.pointsPerDay)} points/day`}
              </span>
              <button type="button" className="secondary" onClick={() => remove.mutate(d.subdomain)} aria-label={`Remove ${d.hostname}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!subdomainProblem(sub)) add.mutate();
        }}
        noValidate
      >
        <TextField
          label="Subdomain"
          value={sub}
          onChange={(e) => setSub(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          error={problem ?? fieldError(add.error, "subdomain")}
          hint={
            <>
              Hostname: <code data-testid="hostname-preview">{hostnamePreview(inst.stack, inst.name, sub, mode.baseDomain)}</code>
            </>
          }
        />
        <TextField
          label="Port"
          type="number"
          min={1}
          max={65535}
          value={port}
          onChange={(e) => setPort(e.target.value)}
          error={fieldError(add.error, "port")}
        />
        <button type="submit" disabled={add.isPending}>
          Add domain
        </button>
      </form>
      <p className="muted" data-testid="domain-price">
        {price.free
          ? `This domain is free (${mode.domains.freePerInstance} per instance included).`
          : `This domain costs ${formatPoints(price.pointsPerDay)} points/day (the first ${mode.domains.freePerInstance} per instance are free).`}
      </p>
      {formError(add.error, ["subdomain", "port"]) ? <Notice kind="error">{formError(add.error, ["subdomain", "port"])}</Notice> : null}
    </Section>
  );
}

function Snapshots({ inst }: { inst: Instance }) {
  const s = useSession();
  const qc = useQueryClient();
  const key = ["snapshots", inst.id];
  const list = useQuery({
    queryKey: key,
    queryFn: () =>
      s.request<{ items: { name: string; description: string; createdAt: string | null }[]; max: number }>("GET", `/api/instances/${inst.id}/snapshots`),
    enabled: inst.vmid !== null,
  });
  const [name, setName] = useState("");
  const done = () => void qc.invalidateQueries({ queryKey: key });
  const create = useMutation({
    mutationFn: () => s.request("POST", `/api/instances/${inst.id}/snapshots`, { name }),
    onSuccess: () => {
      setName("");
      done();
    },
  });
  const rollback = useMutation({ mutationFn: (n: string) => s.request("POST", `/api/instances/${inst.id}/snapshots/${n}/rollback`), onSettled: done });
  const remove = useMutation({ mutationFn: (n: string) => s.request("DELETE", `/api/instances/${inst.id}/snapshots/${n}`), onSettled: done });
  const items = (list.data?.items ?? []).filter((x) => x.name !== "current");
  return (
    <Section id="snapshots" title="Snapshots">
      {inst.vmid === null ? <p className="muted">Snapshots are possible once the container exists.</p> : null}
      {items.length > 0 ? (
        <ul className="plain">
          {items.map((x) => (
            <li key={x.name} className="row spread">
              <span>
                <strong>{x.name}</strong> {x.createdAt ? <time dateTime={x.createdAt}>{new Date(x.createdAt).toLocaleString()}</time> : null}
              </span>
              <span className="row">
                <button type="button" className="secondary" onClick={() => rollback.mutate(x.name)} aria-label={`Roll back to ${x.name}`}>
                  Roll back
                </button>
                <button type="button" className="secondary" onClick={() => remove.mutate(x.name)} aria-label={`Delete snapshot ${x.name}`}>
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      ) : inst.vmid !== null ? (
        <p>No snapshots.</p>
      ) : null}
      {rollback.isSuccess ? <p role="status">Rolled back.</p> : null}
      {(rollback.error ?? remove.error) ? <Notice kind="error">{(rollback.error ?? remove.error)!.message}</Notice> : null}
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
        noValidate
      >
        <TextField
          label="Snapshot name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          autoComplete="off"
          error={fieldError(create.error, "name") ?? formError(create.error, ["name"])}
        />
        <button type="submit" disabled={create.isPending || inst.vmid === null}>
          Take snapshot
        </button>
      </form>
    </Section>
  );
}

function Backups({ inst }: { inst: Instance }) {
  const s = useSession();
  const qc = useQueryClient();
  const key = ["backups", inst.id];
  const list = useQuery({
    queryKey: key,
    queryFn: () => s.request<{ items: { volid: string; createdAt: string }[] }>("GET", `/api/instances/${inst.id}/backups`),
    enabled: inst.vmid !== null,
  });
  const create = useMutation({
    mutationFn: () => s.request("POST", `/api/instances/${inst.id}/backups`),
    onSettled: () => void qc.invalidateQueries({ queryKey: key }),
  });
  return (
    <Section id="backups" title="Backups">
      {(list.data?.items ?? []).length > 0 ? (
        <ul className="plain">
          {list.data!.items.map((b) => (
            <li key={b.volid}>
              <code>{b.volid}</code> · <time dateTime={b.createdAt}>{new Date(b.createdAt).toLocaleString()}</time>
            </li>
          ))}
        </ul>
      ) : (
        <p>No backups.</p>
      )}
      {create.error ? <Notice kind="error">{create.error.message}</Notice> : null}
      <button type="button" className="secondary" onClick={() => create.mutate()} disabled={create.isPending || inst.vmid === null}>
        {create.isPending ? "Backing up…" : "Back up now"}
      </button>
    </Section>
  );
}

function Vpn() {
  const s = useSession();
  const [cfg, setCfg] = useState<{ config: string; filename: string; qr: { format: string; data: string } } | undefined>();
  const get = useMutation({
    mutationFn: () => s.request<{ config: string; filename: string; qr: { format: string; data: string } }>("POST", "/api/vpn/config", { format: "svg" }),
    onSuccess: (r) => {
      setCfg(r);
      const url = URL.createObjectURL(new Blob([r.config], { type: "text/plain" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = r.filename;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  });
  return (
    <Section id="vpn" title="VPN">
      <p>The VPN reaches your containers' private addresses. A new config rotates your key: older configs stop working. The private key is shown only now.</p>
      <button type="button" onClick={() => get.mutate()} disabled={get.isPending}>
        Download VPN config
      </button>
      {get.error ? <Notice kind="error">{get.error.message}</Notice> : null}
      {cfg ? (
        <div className="vpn">
          <img
            src={`data:image/svg+xml;base64,${btoa(cfg.qr.data)}`}
            alt="QR code of the WireGuard config, for the WireGuard phone app"
            width={220}
            height={220}
          />
          <p>
            Saved as <code>{cfg.filename}</code>. Scan the code with the WireGuard app, or import the file.
          </p>
        </div>
      ) : null}
    </Section>
  );
}

function Source({ id }: { id: string }) {
  const s = useSession();
  const q = useQuery({
    queryKey: ["source", id],
    queryFn: () =>
      s.request<{ file: string; yaml: string; commits: { sha: string; author: string; at: string; subject: string }[] }>("GET", `/api/instances/${id}/source`),
  });
  if (!q.data)
    return (
      <Section id="source" title="Stack file">
        {q.error ? <Notice kind="error">{q.error.message}</Notice> : <Loading what="the stack file" />}
      </Section>
    );
  return (
    <Section id="source" title="Stack file">
      <p>
        Your instance as written in <code>{q.data.file}</code> (read-only here; every change above is a commit to it).
      </p>
      <pre className="yaml" tabIndex={0} aria-label="YAML of this instance">
        {q.data.yaml}
      </pre>
      <h3>History</h3>
      <ol className="plain history">
        {q.data.commits.map((c) => (
          <li key={c.sha}>
            <code>{c.sha.slice(0, 8)}</code> <time dateTime={c.at}>{new Date(c.at).toLocaleString()}</time> · {c.author} · {c.subject}
          </li>
        ))}
      </ol>
    </Section>
  );
}

export function InstancePage() {
  const { id = "" } = useParams();
  const s = useSession();
  const [terminal, setTerminal] = useState(false);
  const q = useQuery({
    queryKey: ["instance", id],
    queryFn: () => s.request<Instance>("GET", `/api/instances/${id}`),
    refetchInterval: (query) => (query.state.data?.state === "provisioning" ? 3_000 : false),
  });
  if (q.error)
    return (
      <>
        <h1>Instance</h1>
        <Notice kind="error">{q.error.message}</Notice>
        <Link to="/">Back to the dashboard</Link>
      </>
    );
  if (!q.data) return <Loading what="the instance" />;
  const inst = q.data;
  const running = inst.state === "running";
  return (
    <>
      <div className="row spread">
        <h1>
          {inst.name} <StatusBadge state={inst.state} />
        </h1>
        <Link to="/">All instances</Link>
      </div>
      {inst.reason ? <Notice kind={inst.state === "error" ? "error" : "info"}>{inst.reason}</Notice> : null}
      <Section id="overview" title="Overview">
        <dl className="stats">
          <div>
            <dt>Address</dt>
            <dd data-testid="ip">{inst.ip ?? "not yet"}</dd>
          </div>
          <div>
            <dt>Plan</dt>
            <dd>{inst.plan}</dd>
          </div>
          <div>
            <dt>Template</dt>
            <dd>{inst.template}</dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd>{formatPoints(inst.pointsPerDay)} points/day</dd>
          </div>
          <div>
            <dt>Container</dt>
            <dd>{inst.vmid ?? "—"}</dd>
          </div>
        </dl>
        <StatsPanel id={inst.id} running={running} />
      </Section>
      <Section id="progress" title="Provisioning progress">
        <Progress />
      </Section>
      <Actions inst={inst} />
      <Section id="terminal" title="Terminal">
        {terminal ? (
          <TerminalPanel id={inst.id} onClose={() => setTerminal(false)} />
        ) : (
          <button type="button" onClick={() => setTerminal(true)} disabled={!running}>
            Open terminal
          </button>
        )}
        {!running ? <p className="muted">The terminal opens a shell on a running instance.</p> : null}
      </Section>
      <Domains inst={inst} />
      <Snapshots inst={inst} />
      <Backups inst={inst} />
      <Vpn />
      <Source id={inst.id} />
    </>
  );
}
