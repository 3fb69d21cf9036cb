// Live CPU / memory / disk / network charts: history from stats/history (Proxmox rrddata), then the current stats appended every 5 s.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useSession } from "../context.tsx";
import { formatBytes, formatDuration } from "../logic.ts";

interface Stats {
  state: string;
  cpu: number;
  cores: number;
  memory: { used: number; total: number };
  disk: { used: number; total: number };
  network: { in: number; out: number };
  uptime: number;
}

type Row = Record<string, number>;

interface Series {
  label: string;
  color: string;
  value: (r: Row) => number | null;
}

const CHARTS: { title: string; unit: (v: number) => string; series: Series[] }[] = [
  { title: "CPU", unit: (v) => `${Math.round(v * 100)}%`, series: [{ label: "CPU", color: "#1f5fbf", value: (r) => r.cpu ?? null }] },
  { title: "Memory", unit: formatBytes, series: [{ label: "used", color: "#7a3fb0", value: (r) => r.mem ?? null }] },
  { title: "Disk", unit: formatBytes, series: [{ label: "used", color: "#8a5a00", value: (r) => r.disk ?? null }] },
  {
    title: "Network (bytes/s)",
    unit: formatBytes,
    series: [
      { label: "in", color: "#0b7a3e", value: (r) => r.netin ?? null },
      { label: "out", color: "#b3261e", value: (r) => r.netout ?? null },
    ],
  },
];

function Chart({ title, rows, unit, series }: { title: string; rows: Row[]; unit: (v: number) => string; series: Series[] }) {
  const el = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const [width, setWidth] = useState(320);
  useEffect(() => {
    // The figure's width, not the plot's own (which would keep its first size forever).
    const node = box.current;
    if (!node) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(200, Math.floor(node.clientWidth))));
    ro.observe(node);
    return () => ro.disconnect();
  }, []);
  const data: uPlot.AlignedData = [rows.map((r) => r.time ?? 0), ...series.map((s) => rows.map((r) => s.value(r)))];
  useEffect(() => {
    if (!el.current) return;
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width,
        height: 160,
        legend: { show: true },
        axes: [{ stroke: "#333" }, { stroke: "#333", values: (_u, vals) => vals.map((v) => unit(v)), size: 70 }],
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (_u: uPlot, v: number | null) => (v === null ? "—" : unit(v)) })),
        ],
      },
      data,
      el.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [width]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [rows]);
  return (
    <figure className="chart" ref={box}>
      <figcaption>{title}</figcaption>
      <div
        ref={el}
        role="img"
        aria-label={`${title} over the last hour; latest ${rows.length > 0 ? unit(series[0]!.value(rows[rows.length - 1]!) ?? 0) : "no data yet"}`}
      />
    </figure>
  );
}

export function StatsPanel({ id, running }: { id: string; running: boolean }) {
  const s = useSession();
  const history = useQuery({
    queryKey: ["history", id],
    queryFn: () => s.request<{ points: Row[] }>("GET", `/api/instances/${id}/stats/history?timeframe=hour`),
    enabled: running,
  });
  const stats = useQuery({
    queryKey: ["stats", id],
    queryFn: () => s.request<Stats>("GET", `/api/instances/${id}/stats`),
    enabled: running,
    refetchInterval: 5_000,
  });
  const [live, setLive] = useState<Row[]>([]);
  useEffect(() => {
    const st = stats.data;
    if (!st) return;
    const time = Math.floor(Date.now() / 1000);
    setLive((prev) => {
      const last = prev[prev.length - 1];
      // Network counters are totals: the live rate is the difference over the interval.
      const netin = last?.totalIn !== undefined ? Math.max(0, (st.network.in - last.totalIn) / Math.max(1, time - (last.time ?? time))) : null;
      const netout = last?.totalOut !== undefined ? Math.max(0, (st.network.out - last.totalOut) / Math.max(1, time - (last.time ?? time))) : null;
      const row: Row = {
        time,
        cpu: st.cpu,
        mem: st.memory.used,
        disk: st.disk.used,
        totalIn: st.network.in,
        totalOut: st.network.out,
        ...(netin !== null ? { netin } : {}),
        ...(netout !== null ? { netout } : {}),
      };
      return [...prev, row].slice(-120);
    });
  }, [stats.data]);
  if (!running) return <p className="muted">Charts appear while the instance is running.</p>;
  const rows = [...(history.data?.points ?? []).filter((r) => r.time !== undefined), ...live].sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
  const st = stats.data;
  return (
    <>
      {st ? (
        <dl className="stats">
          <div>
            <dt>Uptime</dt>
            <dd data-testid="uptime">{formatDuration(st.uptime)}</dd>
          </div>
          <div>
            <dt>CPU</dt>
            <dd>
              {Math.round(st.cpu * 100)}% of {st.cores} core(s)
            </dd>
          </div>
          <div>
            <dt>Memory</dt>
            <dd>
              {formatBytes(st.memory.used)} of {formatBytes(st.memory.total)}
            </dd>
          </div>
          <div>
            <dt>Disk</dt>
            <dd>
              {formatBytes(st.disk.used)} of {formatBytes(st.disk.total)}
            </dd>
          </div>
        </dl>
      ) : null}
      <div className="charts">
        {CHARTS.map((c) => (
          <Chart key={c.title} title={c.title} rows={rows} unit={c.unit} series={c.series} />
        ))}
      </div>
    </>
  );
}
