// Edits keep everything people wrote: only the intended lines change, and the result still validates.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { addDomain, addInstance, editStackText, removeDomain, removeInstance, setAllocation, setPower, setSuspension, spliceChanges } from "./edit.js";
import { validateStackSet } from "./validate.js";

const read = (name: string) => readFileSync(new URL(`../stacks/${name}`, import.meta.url), "utf8");
const ALICE = read("alice.yaml");
const BOB = read("bob.yaml");
const CAROL = read("carol.yaml");
const PLATFORM = read("platform.yaml");

/** A minimal line diff: lines only in `a` (removed) and only in `b` (added), by LCS. */
function diff(a: string, b: string): { removed: string[]; added: string[] } {
  const x = a.split("\n");
  const y = b.split("\n");
  const dp = x.map(() => new Array<number>(y.length + 1).fill(0));
  dp.push(new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--) dp[i]![j] = x[i] === y[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) (i++, j++);
    else if (j < y.length && (i >= x.length || dp[i]![j + 1]! >= dp[i + 1]![j]!)) added.push(y[j++]!);
    else removed.push(x[i++]!);
  }
  return { removed, added };
}

const validUser = (path: string, text: string) => {
  const r = validateStackSet([
    { path, text },
    { path: "stacks/platform.yaml", text: PLATFORM },
  ]);
  return r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`);
};

describe("editStackText", () => {
  it.each(["alice.yaml", "bob.yaml", "carol.yaml", "platform.yaml"])("a no-op edit of %s returns the text unchanged", (name) => {
    expect(editStackText(read(name), () => {})).toBe(read(name));
  });

  it("keeps CRLF line ends", () => {
    const crlf = CAROL.replace(/\n/g, "\r\n");
    const out = setPower(crlf, "lab", "stopped");
    expect(out).toContain("    power: stopped\r\n");
    expect(out.replace(/\r\n/g, "")).not.toContain("\n");
  });

  it("refuses text that is not YAML", () => {
    expect(() => setPower("a: [", "x", "running")).toThrow(ProxstackError);
  });

  it("falls back to the full print when the print reflows lines", () => {
    expect(spliceChanges("a: 1\nb: 2", "a: 1", "a: 1\nb: 3")).toBe("a: 1\nb: 3");
  });
});

describe("typed edits", () => {
  it("records carol's allocation as two added lines after plan", () => {
    const out = setAllocation(CAROL, "lab", { vmid: 2004, ip: "10.10.0.24" });
    expect(diff(CAROL, out)).toEqual({ removed: [], added: ["    vmid: 2004", "    ip: 10.10.0.24"] });
    expect(out).toMatch(/plan: small\n {4}vmid: 2004\n {4}ip: 10\.10\.0\.24\n/);
    expect(validUser("stacks/carol.yaml", out)).toEqual([]);
  });

  it("changes an existing allocation in place", () => {
    const out = setAllocation(ALICE, "dev", { ip: "10.10.0.30" });
    expect(diff(ALICE, out)).toEqual({ removed: ["    ip: 10.10.0.22"], added: ["    ip: 10.10.0.30"] });
  });

  it("sets power on one line, keeping comments and flow maps elsewhere", () => {
    const out = setPower(ALICE, "dev", "running");
    expect(diff(ALICE, out)).toEqual({ removed: ["    power: stopped"], added: ["    power: running"] });
    expect(out).toContain("      - { subdomain: api, port: 8080 }   # the second domain costs extra points");
  });

  it("adds power where it was left out", () => {
    expect(diff(CAROL, setPower(CAROL, "lab", "stopped"))).toEqual({ removed: [], added: ["    power: stopped"] });
  });

  it("adds a domain in the style of its neighbours", () => {
    const out = addDomain(ALICE, "web", { subdomain: "blog", port: 8081 });
    expect(diff(ALICE, out)).toEqual({ removed: [], added: ["      - { subdomain: blog, port: 8081 }"] });
    expect(validUser("stacks/alice.yaml", out)).toEqual([]);
  });

  it("adds a first domain as a block list", () => {
    const out = addDomain(CAROL, "lab", { subdomain: "www", port: 80 });
    expect(diff(CAROL, out).added).toEqual(["    domains:", "      - subdomain: www", "        port: 80"]);
    expect(validUser("stacks/carol.yaml", out)).toEqual([]);
  });

  it("removes a domain and only it", () => {
    const out = removeDomain(ALICE, "web", "www");
    expect(diff(ALICE, out)).toEqual({ removed: ["      - { subdomain: www, port: 80 }"], added: [] });
  });

  it("adds an instance at the end with defaults left out", () => {
    const out = addInstance(BOB.replace(/suspension:[\s\S]*/, ""), {
      name: "db",
      template: "ubuntu-24",
      plan: "small",
      domains: [{ subdomain: "db", port: 5432 }],
    });
    expect(out.endsWith("  - name: db\n    template: ubuntu-24\n    plan: small\n    domains:\n      - subdomain: db\n        port: 5432\n")).toBe(true);
  });

  it("removes an instance and only its lines", () => {
    const out = removeInstance(ALICE, "dev");
    expect(diff(ALICE, out)).toEqual({
      removed: ["  - name: dev", "    template: ubuntu-24", "    plan: small", "    power: stopped", "    vmid: 2002", "    ip: 10.10.0.22"],
      added: [],
    });
    expect(validUser("stacks/alice.yaml", out)).toEqual([]);
  });

  it("sets and clears the suspension", () => {
    const on = setSuspension(CAROL, { reason: "points-exhausted", since: "2026-11-25T10:00:00Z", note: "top up" });
    expect(diff(CAROL, on)).toEqual({ removed: [], added: ["suspension:", "  reason: points-exhausted", "  since: 2026-11-25T10:00:00Z", "  note: top up"] });
    expect(validUser("stacks/carol.yaml", on)).toEqual([]);
    expect(setSuspension(on, undefined)).toBe(CAROL);
    const off = setSuspension(BOB, undefined);
    expect(diff(BOB, off).added).toEqual([]);
    expect(diff(BOB, off).removed).toHaveLength(4);
  });

  it.each([
    ["setPower on a missing instance", () => setPower(CAROL, "nope", "running"), "instance-not-found"],
    ["addInstance with a taken name", () => addInstance(CAROL, { name: "lab", template: "debian-12", plan: "small" }), "instance-exists"],
    ["addDomain with a taken subdomain", () => addDomain(ALICE, "web", { subdomain: "www", port: 81 }), "domain-exists"],
    ["removeDomain of a missing subdomain", () => removeDomain(ALICE, "web", "nope"), "domain-not-found"],
  ])("%s throws a stall error with a code", (_, fn, code) => {
    try {
      fn();
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProxstackError);
      expect((err as ProxstackError).code).toBe(code);
      expect((err as ProxstackError).kind).toBe("stall");
    }
  });
});
