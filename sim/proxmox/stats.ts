// Plausible, changing resource figures for simulated containers (status, resources, rrd history), derived from time.
import type { Container } from "./store.js";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export interface CtStats {
  cpu: number;
  cpus: number;
  mem: number;
  maxmem: number;
  maxswap: number;
  disk: number;
  maxdisk: number;
  netin: number;
  netout: number;
  diskread: number;
  diskwrite: number;
  uptime: number;
}

/** Parses a PVE disk size such as `8G` or the `size=` of a rootfs string into bytes. */
export function diskBytes(rootfs: string | number | undefined): number {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)/.exec(String(rootfs ?? ""));
  if (!m) return 8 * GIB;
  const unit = { "": 1, K: 1024, M: MIB, G: GIB, T: 1024 * GIB }[m[2] ?? ""] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

function seed(vmid: number): number {
  return ((vmid * 2654435761) % 1000) / 1000;
}

/** Milliseconds the container has been running in its current run (0 when stopped). */
export function uptimeMs(c: Container, now: number): number {
  const last = c.runs.at(-1);
  return c.status === "running" && last && last[1] === null ? Math.max(0, now - last[0]) : 0;
}

/** Figures at time `now` (epoch ms); counters grow with uptime, gauges wander smoothly. */
export function statsAt(c: Container, now: number): CtStats {
  const maxmem = Number(c.config.memory ?? 512) * MIB;
  const maxswap = Number(c.config.swap ?? 512) * MIB;
  const maxdisk = diskBytes(c.config.rootfs);
  const cpus = Number(c.config.cores ?? 1);
  const s = seed(c.vmid);
  const up = uptimeMs(c, now) / 1000;
  const t = now / 1000;
  const running = up > 0 || c.status === "running";
  const wave = (period: number, phase: number) => 0.5 + 0.5 * Math.sin(t / period + phase * 6.283);
  return {
    cpu: running ? Number((0.01 + 0.08 * wave(37, s) * wave(11, s / 2)).toFixed(5)) : 0,
    cpus,
    mem: running ? Math.round(maxmem * (0.15 + 0.25 * wave(53, s))) : 0,
    maxmem,
    maxswap,
    disk: Math.round(maxdisk * (0.12 + 0.05 * s) + (running ? up * 512 : 0)),
    maxdisk,
    netin: running ? Math.round(up * (2048 + 1024 * s) + 4096 * wave(7, s)) : 0,
    netout: running ? Math.round(up * (1024 + 512 * s) + 2048 * wave(5, s)) : 0,
    diskread: running ? Math.round(up * 4096 * (1 + s)) : 0,
    diskwrite: running ? Math.round(up * 2048 * (1 + s)) : 0,
    uptime: Math.floor(up),
  };
}

const FRAMES: Record<string, number> = { hour: 60, day: 1800, week: 10800, month: 43200, year: 604800 };

/** RRD history like `…/rrddata`: 70 points at the timeframe's step; zero while stopped, absent before creation. */
export function rrdData(c: Container, timeframe: string, now: number): Record<string, number>[] {
  const step = FRAMES[timeframe] ?? 60;
  const end = Math.floor(now / 1000 / step) * step;
  const out: Record<string, number>[] = [];
  for (let i = 69; i >= 0; i--) {
    const time = end - i * step;
    if (time * 1000 < c.createdAt - step * 1000) continue;
    const ms = time * 1000;
    const run = c.runs.find(([a, b]) => a <= ms && (b === null || b >= ms));
    const at: Container = run ? { ...c, status: "running", runs: [[run[0], null]] } : { ...c, status: "stopped", runs: [] };
    const s = statsAt(at, ms);
    out.push({
      time,
      cpu: s.cpu,
      maxcpu: s.cpus,
      mem: s.mem,
      maxmem: s.maxmem,
      disk: s.disk,
      maxdisk: s.maxdisk,
      netin: run ? Math.round((2048 + 1024 * seed(c.vmid)) * (0.8 + 0.4 * Math.abs(Math.sin(time)))) : 0,
      netout: run ? Math.round((1024 + 512 * seed(c.vmid)) * (0.8 + 0.4 * Math.abs(Math.cos(time)))) : 0,
      diskread: run ? 4096 : 0,
      diskwrite: run ? 2048 : 0,
    });
  }
  return out;
}
