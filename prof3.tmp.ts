import { advanceMeter } from "./billing/metering.js";
import type { Meter } from "./billing/ledger-repository.js";
const T0 = Date.UTC(2026, 10, 30, 10, 0); const RATES = [24_000_000, 72_000_000, 240_000_000];
const obs = Array.from({ length: 100000 }, (_, i) => ({ stack: `u${String(i % 30000).padStart(5, "0")}`, instance: `i${i}`, running: true, sinceMs: T0, planRateMicroPerDay: RATES[i % 3]!, domainRateMicroPerDay: i % 7 === 0 ? 2_000_000 : 0 }));
const meters = new Map<string, Map<string, Meter>>();
for (const o of obs) { const s = (o.stack + " ").trim(); let m = meters.get(s); if (!m) meters.set(s, (m = new Map())); m.set((o.instance + " ").trim(), advanceMeter(undefined, o, T0 / 60000, undefined, T0 / 60000).meter); }
const now = T0 / 60000 + 5;
const cpu = (n: string, f: () => void) => { const xs: number[] = []; for (let k = 0; k < 7; k++) { const c = process.cpuUsage(); f(); const u = process.cpuUsage(c); xs.push((u.user + u.system) / 1000); } console.log(n, Math.min(...xs).toFixed(1)); };
cpu("due+lookup only", () => { const due = new Map<string, { p: number; m: Map<string, Meter> }>(); for (const o of obs) { let d = due.get(o.stack); if (!d) due.set(o.stack, (d = { p: 0, m: meters.get(o.stack)! })); if (d.m.get(o.instance)) d.p++; } });
cpu("full loop", () => { const due = new Map<string, { p: number; m: Map<string, Meter> }>(); for (const o of obs) { let d = due.get(o.stack); if (!d) due.set(o.stack, (d = { p: 0, m: meters.get(o.stack)! })); d.p += advanceMeter(d.m.get(o.instance), o, now, now - 1, T0 / 60000).planDue; } });
