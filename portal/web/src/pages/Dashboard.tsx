// The dashboard: balance, burn, projected stop time and a low-balance warning; every instance with its live status, cost and power buttons.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useSession } from "../context.tsx";
import { burnSummary, formatPoints, type Instance } from "../logic.ts";
import { useInstances, usePoints } from "../queries.ts";
import { Loading, Notice, StatusBadge } from "../ui.tsx";

export function PowerButtons({ inst }: { inst: Instance }) {
  const s = useSession();
  const qc = useQueryClient();
  const m = useMutation({
    mutationFn: (verb: "start" | "stop") => s.request("POST", `/api/instances/${inst.id}/${verb}`),
    onSettled: () => qc.invalidateQueries({ queryKey: ["instances"] }),
  });
  const wantsRunning = inst.power === "running";
  return (
    <span className="power">
      {wantsRunning ? (
        <button type="button" className="secondary" onClick={() => m.mutate("stop")} disabled={m.isPending} aria-label={`Stop ${inst.name}`}>
          Stop
        </button>
      ) : (
        <button type="button" onClick={() => m.mutate("start")} disabled={m.isPending} aria-label={`Start ${inst.name}`}>
          Start
        </button>
      )}
      {m.error ? (
        <span className="error" role="alert">
          {m.error.message}
        </span>
      ) : null}
    </span>
  );
}

export function PointsSummary() {
  const points = usePoints();
  if (!points.data) return <Loading what="points" />;
  const p = points.data;
  const b = burnSummary(p, new Date());
  return (
    <section aria-labelledby="points-h" className="card">
      <h2 id="points-h">Points</h2>
      <dl className="stats">
        <div>
          <dt>Balance</dt>
          <dd data-testid="balance">{formatPoints(p.balance)}</dd>
        </div>
        <div>
          <dt>Burn</dt>
          <dd>{formatPoints(p.burnPerDay)} / day</dd>
        </div>
        <div>
          <dt>Points run out</dt>
          <dd>{b.stopsAt ? <time dateTime={b.stopsAt.toISOString()}>{b.stopsAt.toLocaleString()}</time> : "never at this rate"}</dd>
        </div>
      </dl>
      <p className="muted">{b.text}</p>
      {b.low ? (
        <Notice kind="warn">
          Low balance: your instances stop when your points run out{b.stopsAt ? ` (${b.stopsAt.toLocaleString()})` : ""}. Stop what you do not need or ask an
          administrator for points.
        </Notice>
      ) : null}
    </section>
  );
}

export function DashboardPage() {
  const instances = useInstances();
  return (
    <>
      <h1>Dashboard</h1>
      <PointsSummary />
      <section aria-labelledby="inst-h" className="card">
        <div className="row spread">
          <h2 id="inst-h">Instances</h2>
          <Link className="button" to="/create">
            Create instance
          </Link>
        </div>
        {instances.isLoading ? <Loading what="instances" /> : null}
        {instances.error ? <Notice kind="error">{instances.error.message}</Notice> : null}
        {instances.data && instances.data.items.length === 0 ? <p>No instances yet. Create one to get a Linux container of your own.</p> : null}
        {instances.data && instances.data.items.length > 0 ? (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Plan</th>
                <th scope="col">Address</th>
                <th scope="col">Cost / day</th>
                <th scope="col">Power</th>
              </tr>
            </thead>
            <tbody>
              {instances.data.items.map((i) => (
                <tr key={i.id} data-instance={i.id}>
                  <td data-label="Name">
                    <Link to={`/instances/${i.id}`}>{i.name}</Link>
                    {i.reason ? <div className="muted small">{i.reason}</div> : null}
                  </td>
                  <td data-label="Status">
                    <StatusBadge state={i.state} />
                  </td>
                  <td data-label="Plan">
                    {i.plan} · {i.template}
                  </td>
                  <td data-label="Address">{i.ip ?? "—"}</td>
                  <td data-label="Cost / day">{formatPoints(i.pointsPerDay)}</td>
                  <td data-label="Power">
                    <PowerButtons inst={i} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}
