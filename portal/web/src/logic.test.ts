// The web portal's logic: runway check, names, hostnames, domain prices, burn summary, SSE parsing, the step list, ledger filters.
import { describe, expect, it } from "vitest";
import { filterLedger, type LedgerItem } from "./ledger.ts";
import {
  burnSummary,
  deleteConfirmed,
  foldSteps,
  formatBytes,
  formatDuration,
  formatPoints,
  hostnamePreview,
  instanceNameProblem,
  nextDomainPrice,
  parseSse,
  rollbackLines,
  rollbackNeeds,
  syncSummary,
  type RollbackResult,
  runwayCheck,
  subdomainProblem,
  type Step,
} from "./logic.ts";

const points = (balance: number, burnPerDay: number) => ({
  balance,
  balanceMicro: balance * 1e6,
  burnPerDay,
  runwaySeconds: burnPerDay > 0 ? Math.floor((balance / burnPerDay) * 86_400) : null,
});

describe("runwayCheck", () => {
  it("needs points for the runway hours at the new burn, as the API's 402 does", () => {
    expect(runwayCheck(points(100, 0), 5, 24)).toEqual({
      newBurnPerDay: 5,
      needed: 5,
      ok: true,
      text: "Your new burn is 5 points/day; 24 h of it needs 5 points and you have 100.",
    });
    expect(runwayCheck(points(10, 8), 5, 24)).toEqual({
      newBurnPerDay: 13,
      needed: 13,
      ok: false,
      text: "Your new burn would be 13 points/day; 24 h of it needs 13 points but you have 10. Ask an administrator for points or pick a smaller plan.",
    });
    expect(runwayCheck(points(1, 3), 1.5, 12).needed).toBe(2.25);
  });
  it("does not apply to changes that lower the burn, nor to administrators", () => {
    expect(runwayCheck(points(0, 8), -3, 24)).toMatchObject({
      newBurnPerDay: 5,
      ok: true,
      text: "This does not raise your burn rate, so no runway check applies.",
    });
    expect(runwayCheck(points(0, 0), 50, 24, true)).toMatchObject({ ok: true, needed: 0, text: "Administrators are not billed." });
  });
});

describe("names and hostnames", () => {
  it("says what is wrong with an instance name as it is typed", () => {
    expect(["", "Web", "-web", "web-", "we_b", "a".repeat(31), "web", "db-1"].map((n) => instanceNameProblem(n, ["web"]))).toEqual([
      "Give the instance a name.",
      "Use lower-case letters only.",
      "Use lower-case letters, digits and '-', starting and ending with a letter or digit.",
      "Use lower-case letters, digits and '-', starting and ending with a letter or digit.",
      "Use lower-case letters, digits and '-', starting and ending with a letter or digit.",
      "At most 30 characters.",
      "You already have an instance named web.",
      undefined,
    ]);
  });
  it("previews the hostname as programs/naming.ts builds it, and prices the next domain", () => {
    expect(hostnamePreview("dana-scully", "web", "www", "example.com")).toBe("dana-scully-web-www.example.com");
    expect(hostnamePreview("dana-scully", "web", "", "example.com")).toBe("dana-scully-web-….example.com");
    expect(subdomainProblem("WWW")).toBe("One DNS label: lower-case letters, digits and '-'.");
    expect(subdomainProblem("api")).toBeUndefined();
    expect([0, 1, 2].map((n) => nextDomainPrice(n, { freePerInstance: 1, extraPointsPerDay: 2 }))).toEqual([
      { free: true, pointsPerDay: 0 },
      { free: false, pointsPerDay: 2 },
      { free: false, pointsPerDay: 2 },
    ]);
    expect([deleteConfirmed("web", "web"), deleteConfirmed("Web", "web"), deleteConfirmed("web ", "web")]).toEqual([true, false, false]);
  });
});

describe("burn summary and formats", () => {
  it("projects when the points run out and warns below a day", () => {
    const now = new Date("2026-11-30T10:00:00Z");
    expect(burnSummary(points(100, 0), now)).toEqual({ stopsAt: undefined, low: false, text: "Nothing is burning points right now." });
    expect(burnSummary(points(10, 20), now)).toEqual({ stopsAt: new Date("2026-11-30T22:00:00Z"), low: true, text: "At 20 points/day your points last 12 h." });
    expect(burnSummary(points(100, 20), now).low).toBe(false);
  });
  it("formats points, durations and bytes", () => {
    expect([formatPoints(12), formatPoints(12.5), formatPoints(0.004), formatPoints(1234.567)]).toEqual(["12", "12.5", "0", "1,234.57"]);
    expect([
      formatDuration(30),
      formatDuration(60 * 42),
      formatDuration(3600 * 5 + 600),
      formatDuration(86_400 * 3 + 3600 * 4),
      formatDuration(86_400),
    ]).toEqual(["less than a minute", "42 min", "5 h 10 min", "3 d 4 h", "1 d"]);
    expect([formatBytes(512), formatBytes(512 * 1024 * 1024), formatBytes(1.5 * 1024 ** 3)]).toEqual(["512 B", "512 MiB", "1.5 GiB"]);
  });
});

describe("parseSse", () => {
  it("splits complete messages, keeps the rest, drops comments", () => {
    const r = parseSse(': proxstack events\n\nid: 1\nevent: stack\ndata: {"a":1}\n\nid: 2\r\nevent: run\r\ndata: x\r\n\r\nevent: step\ndata: par');
    expect(r).toEqual({
      messages: [
        { event: "stack", data: '{"a":1}', id: "1" },
        { event: "run", data: "x", id: "2" },
      ],
      rest: "event: step\ndata: par",
    });
    expect(parseSse(r.rest + "tial\n\n").messages).toEqual([{ event: "step", data: "partial" }]);
  });
});

describe("foldSteps", () => {
  it("turns engine events into a step list: started, each resource running then done or failed, finished", () => {
    const evs = [
      { event: "run", data: { run: 7, action: "up", state: "running" } },
      { event: "step", data: { run: 7, type: "resource-pre", text: "create web" } },
      { event: "step", data: { run: 7, type: "resource-pre", text: "create dns" } },
      { event: "step", data: { run: 7, type: "resource-outputs", text: "done: create web" } },
      { event: "step", data: { run: 7, type: "resource-failed", text: "failed: dns" } },
      { event: "step", data: { run: 7, type: "diagnostic", text: "retrying" } },
      { event: "run", data: { run: 7, action: "up", state: "failed", error: "dns refused" } },
    ];
    const steps = evs.reduce<Step[]>((s, e) => foldSteps(s, e), []);
    expect(steps).toEqual([
      { run: 7, text: "up started", status: "info" },
      { run: 7, text: "create web", status: "done" },
      { run: 7, text: "create dns", status: "failed" },
      { run: 7, text: "retrying", status: "info" },
      { run: 7, text: "up failed: dns refused", status: "failed" },
    ]);
    const ok = foldSteps(foldSteps([], { event: "step", data: { run: 8, type: "resource-pre", text: "update web" } }), {
      event: "run",
      data: { run: 8, action: "up", state: "succeeded" },
    });
    expect(ok).toEqual([
      { run: 8, text: "update web", status: "done" },
      { run: 8, text: "up finished", status: "done" },
    ]);
    expect(
      foldSteps(
        Array.from({ length: 5 }, (_, i) => ({ run: 1, text: String(i), status: "info" as const })),
        { event: "step", data: { run: 1, type: "x", text: "new" } },
        3,
      ).map((s) => s.text),
    ).toEqual(["3", "4", "new"]);
  });
});

describe("filterLedger", () => {
  const items: LedgerItem[] = [
    { id: 3, amount: -1.5, amountMicro: -1_500_000, reason: "usage", note: "web: small", balance: 98.5, at: "2026-11-30T09:00:00.000Z" },
    { id: 2, amount: 10, amountMicro: 10_000_000, reason: "admin-grant", note: "Thanks", balance: 100, at: "2026-11-29T23:59:59.000Z" },
    { id: 1, amount: 90, amountMicro: 90_000_000, reason: "signup-bonus", note: null, balance: 90, at: "2026-11-28T10:00:00.000Z" },
  ];
  it("filters by kind, inclusive UTC dates and note text", () => {
    const ids = (f: Partial<Parameters<typeof filterLedger>[1]>) => filterLedger(items, { reason: "", from: "", to: "", search: "", ...f }).map((e) => e.id);
    expect(ids({})).toEqual([3, 2, 1]);
    expect(ids({ reason: "usage" })).toEqual([3]);
    expect(ids({ from: "2026-11-29", to: "2026-11-29" })).toEqual([2]);
    expect(ids({ from: "2026-11-29" })).toEqual([3, 2]);
    expect(ids({ search: "THANKS" })).toEqual([2]);
  });
});

describe("syncSummary", () => {
  const at = "2026-11-30T10:00:00.000Z";
  it("names the conflicting files and the message", () => {
    const s = syncSummary({ state: "conflict", at, conflict: { files: ["alice.yaml"], local: "a", remote: "b", message: "resolve it" } });
    expect(s).toMatchObject({ kind: "error", detail: "resolve it", files: ["alice.yaml"] });
  });
  it("shows the error, warns without a remote, and says when nothing ran", () => {
    expect(syncSummary({ state: "error", at, error: "fetch failed" })).toMatchObject({ kind: "error", detail: "fetch failed", files: [] });
    expect(syncSummary({ state: "no-remote", at }).title).toMatch(/no remote configured/i);
    expect(syncSummary({ state: "up-to-date", at })).toMatchObject({ kind: "info", files: [] });
    expect(syncSummary(null).title).toMatch(/no sync/i);
  });
});

describe("rollback preview", () => {
  const stack = {
    stack: "alice",
    applicable: true,
    created: ["new"],
    changed: [{ instance: "web", fields: ["plan"] }],
    replaced: [{ instance: "db", reasons: ["template changes"] }],
    destroyed: [],
    settings: [],
    hostnames: { added: ["a.example.org"], removed: [] },
    pointsPerDay: { before: 10, after: 12.5 },
  };
  const result = (over: Partial<RollbackResult> = {}): RollbackResult => ({
    stack: "alice",
    file: "alice.yaml",
    to: "HEAD~1",
    commit: "abc",
    allocations: [{ instance: "new", field: "ip", value: "10.0.0.5", outcome: "dropped", reason: "taken" }],
    report: { ok: false, failures: ["1 replacement without allowReplace"], replacements: 1, destroys: 0, stacks: [stack] },
    changes: true,
    ...over,
  });
  it("lists per instance what changes, hostnames and points before → after", () => {
    expect(rollbackLines(result())).toEqual([
      "new: created",
      "web: changes plan",
      "db: REPLACED (template changes)",
      "hostname added: a.example.org",
      "points per day: 10 → 12.5",
      "new: ip 10.0.0.5 not kept (taken)",
    ]);
  });
  it("says when nothing would change", () => {
    expect(rollbackLines(result({ changes: false }))).toEqual(["alice.yaml is already as it was at HEAD~1; nothing to roll back."]);
  });
  it("asks for the allow flags the report needs", () => {
    expect(rollbackNeeds(result().report)).toEqual({ replace: true, destroy: false });
    expect(rollbackNeeds({ ok: true, failures: [], replacements: 0, destroys: 2 })).toEqual({ replace: false, destroy: true });
  });
});
