// The web portal's own logic, free of React and the network: money and time in words, name checks, hostname previews,
// the runway check, SSE parsing and the provisioning step list. Component tests and the pages share it.

/** What the API answers for an instance (portal/api-schemas.ts InstanceOut). */
export interface Instance {
  id: string;
  stack: string;
  name: string;
  template: string;
  plan: string;
  power: "running" | "stopped";
  state: "provisioning" | "running" | "stopped" | "error";
  reason: string | null;
  vmid: number | null;
  ip: string | null;
  hostnames: string[];
  protected: boolean;
  pointsPerDay: number;
}

export interface Plan {
  name: string;
  description: string;
  cores: number;
  memoryMiB: number;
  swapMiB: number;
  diskGiB: number;
  pointsPerDay: number;
}

export interface Points {
  balance: number;
  balanceMicro: number;
  burnPerDay: number;
  runwaySeconds: number | null;
}

/** Points with at most 2 decimals, no trailing zeros: 12, 12.5, 0.01. */
export function formatPoints(n: number): string {
  const r = Math.round(n * 100) / 100;
  return r.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A duration in the largest two units: "3 d 4 h", "5 h 10 min", "42 min", "less than a minute". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return "less than a minute";
}

/** Below a day of runway the dashboard warns. */
export const LOW_RUNWAY_SECONDS = 86_400;

export interface BurnSummary {
  /** When the points run out at the current burn; undefined when nothing burns. */
  stopsAt: Date | undefined;
  low: boolean;
  text: string;
}

export function burnSummary(p: Points, now: Date): BurnSummary {
  if (p.runwaySeconds === null || p.burnPerDay <= 0) return { stopsAt: undefined, low: false, text: "Nothing is burning points right now." };
  const stopsAt = new Date(now.getTime() + p.runwaySeconds * 1000);
  const low = p.runwaySeconds < LOW_RUNWAY_SECONDS;
  return { stopsAt, low, text: `At ${formatPoints(p.burnPerDay)} points/day your points last ${formatDuration(p.runwaySeconds)}.` };
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** The API's rule for instance names (portal/api-schemas.ts), said before the request is sent; undefined when fine. */
export function instanceNameProblem(name: string, taken: readonly string[]): string | undefined {
  if (name === "") return "Give the instance a name.";
  if (name.length > 30) return "At most 30 characters.";
  if (/[A-Z]/.test(name)) return "Use lower-case letters only.";
  if (!DNS_LABEL.test(name)) return "Use lower-case letters, digits and '-', starting and ending with a letter or digit.";
  if (taken.includes(name)) return `You already have an instance named ${name}.`;
  return undefined;
}

export function subdomainProblem(sub: string): string | undefined {
  if (sub === "") return "Give a subdomain, such as www.";
  if (sub.length > 40) return "At most 40 characters.";
  if (!DNS_LABEL.test(sub)) return "One DNS label: lower-case letters, digits and '-'.";
  return undefined;
}

/** The public hostname a domain gets, as programs/naming.ts tunnelHostname builds it. */
export function hostnamePreview(stack: string, instance: string, subdomain: string, baseDomain: string): string {
  return `${stack}-${instance}-${subdomain || "…"}.${baseDomain}`;
}

/** Whether the next domain on an instance is free, and what it costs otherwise. */
export function nextDomainPrice(existing: number, pricing: { freePerInstance: number; extraPointsPerDay: number }): { free: boolean; pointsPerDay: number } {
  return existing < pricing.freePerInstance ? { free: true, pointsPerDay: 0 } : { free: false, pointsPerDay: pricing.extraPointsPerDay };
}

export interface RunwayCheck {
  newBurnPerDay: number;
  needed: number;
  ok: boolean;
  text: string;
}

/**
 * The pre-flight check the API makes (402 insufficient-points): a change that raises the burn needs points for
 * `runwayHours` at the new rate. `delta` is the change in points per day (a new plan's price, or new minus old).
 */
export function runwayCheck(p: Points, delta: number, runwayHours: number, exempt = false): RunwayCheck {
  const newBurnPerDay = Math.round((p.burnPerDay + delta) * 1e6) / 1e6;
  const needed = Math.ceil((newBurnPerDay * 1e6 * runwayHours) / 24) / 1e6;
  if (exempt) return { newBurnPerDay, needed: 0, ok: true, text: "Administrators are not billed." };
  if (delta <= 0) return { newBurnPerDay, needed, ok: true, text: "This does not raise your burn rate, so no runway check applies." };
  const ok = p.balance >= needed;
  const text = ok
    ? `Your new burn is ${formatPoints(newBurnPerDay)} points/day; ${runwayHours} h of it needs ${formatPoints(needed)} points and you have ${formatPoints(p.balance)}.`
    : `Your new burn would be ${formatPoints(newBurnPerDay)} points/day; ${runwayHours} h of it needs ${formatPoints(needed)} points but you have ${formatPoints(p.balance)}. Ask an administrator for points or pick a smaller plan.`;
  return { newBurnPerDay, needed, ok, text };
}

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** Splits a text/event-stream buffer into complete messages and the incomplete rest (comments are dropped). */
export function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const normalized = buffer.replace(/\r\n?/g, "\n");
  const blocks = normalized.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    let id: string | undefined;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (data.length > 0) messages.push({ event, data: data.join("\n"), ...(id !== undefined ? { id } : {}) });
  }
  return { messages, rest };
}

export interface Step {
  run: number;
  text: string;
  status: "running" | "done" | "failed" | "info";
}

/** Folds engine events (`step` and `run` from GET /api/events) into a step list per run, newest run last; at most `max` steps kept. */
export function foldSteps(steps: readonly Step[], ev: { event: string; data: Record<string, unknown> }, max = 200): Step[] {
  const run = typeof ev.data.run === "number" ? ev.data.run : -1;
  if (ev.event === "step") {
    const type = String(ev.data.type ?? "");
    const text = String(ev.data.text ?? type);
    if (type === "resource-outputs" || type === "resource-failed") {
      const target = text.replace(/^(done|failed): /, "");
      const i = steps.findLastIndex((s) => s.run === run && s.status === "running" && s.text.endsWith(target.split(" ").at(-1) ?? target));
      const status: Step["status"] = type === "resource-outputs" ? "done" : "failed";
      if (i >= 0) return steps.map((s, j) => (j === i ? { ...s, status } : s));
      return [...steps, { run, text: target, status }].slice(-max);
    }
    if (type === "resource-pre") return [...steps, { run, text, status: "running" as const }].slice(-max);
    return [...steps, { run, text, status: "info" as const }].slice(-max);
  }
  if (ev.event === "run") {
    const state = String(ev.data.state ?? "");
    const action = String(ev.data.action ?? "apply");
    if (state === "running") return [...steps, { run, text: `${action} started`, status: "info" as const }].slice(-max);
    if (state === "succeeded")
      return [
        ...steps.map((s) => (s.run === run && s.status === "running" ? { ...s, status: "done" as const } : s)),
        { run, text: `${action} finished`, status: "done" as const },
      ].slice(-max);
    if (state === "failed")
      return [...steps, { run, text: `${action} failed${ev.data.error ? `: ${String(ev.data.error)}` : ""}`, status: "failed" as const }].slice(-max);
  }
  return [...steps];
}

/** Bytes in binary units: 512 MiB, 1.5 GiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 10 ? 0 : 1)} ${units[u]}`;
}

/** A deletion goes ahead only when the typed text is exactly the instance's name. */
export function deleteConfirmed(typed: string, name: string): boolean {
  return typed === name;
}

/** The stacks repository's last sync, as `GET /api/admin/sync` answers it (schemas/sync-status.ts). */
export interface SyncStatus {
  state: "no-remote" | "up-to-date" | "fast-forwarded" | "pushed" | "rebased" | "conflict" | "error";
  at: string;
  lastSuccessAt?: string;
  remote?: string;
  branch?: string;
  head?: string;
  upstream?: string;
  conflict?: { files: string[]; local: string; remote: string; pushedTo?: string; message: string };
  error?: string;
}

export interface SyncSummary {
  kind: "info" | "warn" | "error";
  /** One sentence on the state. */
  title: string;
  /** The conflict's message or the error, when there is one. */
  detail?: string;
  /** Files in conflict; empty otherwise. */
  files: string[];
}

const SYNC_TITLE: Record<SyncStatus["state"], string> = {
  "no-remote": "No remote configured: the stacks repository is not synced.",
  "up-to-date": "Up to date with the remote.",
  "fast-forwarded": "Pulled changes from the remote (fast-forward).",
  pushed: "Pushed local commits to the remote.",
  rebased: "Replayed local commits on the remote's and pushed them.",
  conflict: "Conflict with the remote: the local side is kept and applied.",
  error: "The last sync failed; it is retried on the next tick.",
};

/** What the admin page says about the last sync; null: no sync has run yet. */
export function syncSummary(sync: SyncStatus | null): SyncSummary {
  if (!sync) return { kind: "info", title: "No sync has run yet.", files: [] };
  const kind = sync.state === "conflict" || sync.state === "error" ? "error" : "info";
  const detail = sync.state === "conflict" ? sync.conflict?.message : sync.state === "error" ? sync.error : undefined;
  return { kind, title: SYNC_TITLE[sync.state], ...(detail ? { detail } : {}), files: sync.state === "conflict" ? (sync.conflict?.files ?? []) : [] };
}

/** The parts of the check report (stackrepo/check.ts CheckReport) the rollback preview shows. */
export interface RollbackReport {
  ok: boolean;
  failures: string[];
  replacements: number;
  destroys: number;
  allowReplace?: boolean;
  allowDestroy?: boolean;
  violations?: { path: string; line: number; col: number; message: string }[];
  stacks?: {
    stack: string;
    applicable: boolean;
    created: string[];
    changed: { instance: string; fields: string[] }[];
    replaced: { instance: string; reasons: string[] }[];
    destroyed: { instance: string; reasons: string[] }[];
    settings: string[];
    hostnames: { added: string[]; removed: string[] };
    pointsPerDay: { before: number | null; after: number | null };
  }[];
}

/** As `POST /api/admin/stacks/:stack/rollback` answers (stackrepo/rollback.ts RollbackPlan without the file texts). */
export interface RollbackResult {
  stack: string;
  file: string;
  to: string;
  commit: string;
  allocations: { instance: string; field: "vmid" | "ip"; value: string; outcome: "kept-current" | "kept" | "dropped"; reason: string }[];
  report: RollbackReport;
  changes: boolean;
  committed?: string;
}

const pts = (n: number | null) => (n === null ? "none" : formatPoints(n));

/** A rollback preview as short lines: per instance what is created, changed, replaced or destroyed, then hostnames and points. */
export function rollbackLines(r: RollbackResult): string[] {
  if (!r.changes) return [`${r.file} is already as it was at ${r.to}; nothing to roll back.`];
  const lines: string[] = [];
  for (const s of r.report.stacks ?? []) {
    if (!s.applicable) lines.push(`${s.stack}: the restored file is invalid; the engine would keep its last good state.`);
    for (const i of s.created) lines.push(`${i}: created`);
    for (const c of s.changed) lines.push(`${c.instance}: changes ${c.fields.join(", ")}`);
    for (const c of s.replaced) lines.push(`${c.instance}: REPLACED (${c.reasons.join("; ")})`);
    for (const c of s.destroyed) lines.push(`${c.instance}: DESTROYED (${c.reasons.join("; ")})`);
    if (s.settings.length > 0) lines.push(`stack settings: ${s.settings.join(", ")}`);
    for (const h of s.hostnames.added) lines.push(`hostname added: ${h}`);
    for (const h of s.hostnames.removed) lines.push(`hostname removed: ${h}`);
    if (s.pointsPerDay.before !== s.pointsPerDay.after) lines.push(`points per day: ${pts(s.pointsPerDay.before)} → ${pts(s.pointsPerDay.after)}`);
  }
  for (const a of r.allocations) if (a.outcome === "dropped") lines.push(`${a.instance}: ${a.field} ${a.value} not kept (${a.reason})`);
  if (lines.length === 0) lines.push("The file changes, but no instance, hostname or price does.");
  return lines;
}

/** Which allow checkboxes the preview calls for: a replacement or a destroy is refused without its flag. */
export function rollbackNeeds(report: RollbackReport): { replace: boolean; destroy: boolean } {
  return { replace: report.replacements > 0, destroy: report.destroys > 0 };
}
