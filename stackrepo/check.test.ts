// `proxstack check` on a real git clone: clean changes pass, broken ones fail with file:line:col, replacements,
// destroys, taken hostnames and changes outside one's own files are flagged, exit codes 0/1/2.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../scripts/cli.js";
import { main } from "../scripts/proxstack.js";
import type { CheckReport } from "./check.js";
import { REPORT_MARKER } from "./report-markdown.js";
import { createGitFixture, type GitFixture } from "./testing/git-fixture.js";

let fx: GitFixture;
let clone: string;
let base: string;
let alice: string;
let bob: string;

beforeAll(() => {
  fx = createGitFixture("check-");
  clone = fx.clone("pr");
  base = fx.git(clone, ["rev-parse", "HEAD"]);
  alice = fx.read(clone, "alice.yaml");
  bob = fx.read(clone, "bob.yaml");
});
afterAll(() => fx.cleanup());

/** Each case starts from the base files. */
function reset(): void {
  fx.git(clone, ["checkout", "-q", "-f", base, "--", "."]);
  fx.git(clone, ["clean", "-q", "-fd"]);
}

async function check(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, cwd: clone };
  const code = await main(["check", ...args], io);
  return { code, stdout, stderr };
}

async function checkJson(...args: string[]): Promise<{ code: number; report: CheckReport }> {
  const r = await check("--base", base, "--dir", "stacks", "--json", ...args);
  return { code: r.code, report: JSON.parse(r.stdout) as CheckReport };
}

/** 1-based line and column of `needle` in `text` (the n-th occurrence). */
function at(text: string, needle: string, nth = 1): string {
  let i = -1;
  for (let k = 0; k < nth; k++) i = text.indexOf(needle, i + 1);
  const lines = text.slice(0, i).split("\n");
  return `${lines.length}:${(lines.at(-1) ?? "").length + 1}`;
}

describe("proxstack check", () => {
  it("usage errors exit 2: no --base, an unknown revision, a directory outside git", async () => {
    expect((await check("--dir", "stacks")).code).toBe(2);
    const unknown = await check("--base", "no-such-rev", "--dir", "stacks");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/does not know the revision 'no-such-rev'/);
    expect((await check("--base", base, "--dir", fx.root)).code).toBe(2);
    expect((await check("--base", base, "--author", "not-an-email")).code).toBe(2);
  });

  it("no change: exit 0, an empty report", async () => {
    reset();
    const { code, report } = await checkJson();
    expect(code).toBe(0);
    expect(report.changedFiles).toEqual([]);
    expect(report.stacks).toEqual([]);
  });

  it("a clean change by its owner passes and says what happens: created, hostnames, points before → after", async () => {
    reset();
    fx.write(
      clone,
      "alice.yaml",
      alice.trimEnd() + "\n  - name: extra\n    template: debian-12\n    plan: small\n    domains:\n      - { subdomain: shop, port: 80 }\n",
    );
    const { code, report } = await checkJson("--author", "alice@example.com");
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.changedFiles).toEqual([{ path: "stacks/alice.yaml", status: "modified" }]);
    expect(report.stacks).toEqual([
      {
        stack: "alice",
        path: "stacks/alice.yaml",
        status: "modified",
        applicable: true,
        created: ["extra"],
        changed: [],
        replaced: [],
        destroyed: [],
        settings: [],
        hostnames: { added: ["alice-extra-shop.example.com"], removed: [] },
        pointsPerDay: { before: 98, after: 122 },
      },
    ]);
    const md = await check("--base", base, "--dir", "stacks", "--author", "alice@example.com");
    expect(md.code).toBe(0);
    expect(md.stdout.startsWith(`${REPORT_MARKER}\n### proxstack check: ✅ passed\n`)).toBe(true);
    expect(md.stdout).toContain("| alice | 1 | 0 | 0 | 0 | +1 −0 | 98 → 122 (+24) |");
    expect(md.stdout).toContain("- create `extra`");
    expect(md.stdout).toContain("- hostname added: alice-extra-shop.example.com");
  });

  it("a change that breaks validation fails with file:line:col", async () => {
    reset();
    const broken = alice.replace("plan: small", "plan: tiny");
    fx.write(clone, "alice.yaml", broken);
    const { code, report } = await checkJson();
    expect(code).toBe(1);
    expect(report.violations.map((e) => `${e.path}:${e.line}:${e.col}: ${e.code}`)).toEqual([`stacks/alice.yaml:${at(broken, "tiny")}: set.plan-unknown`]);
    expect(report.stacks[0]?.applicable).toBe(false);
    const md = await check("--base", base, "--dir", "stacks");
    expect(md.code).toBe(1);
    expect(md.stdout).toContain(`- \`stacks/alice.yaml:${at(broken, "tiny")}\`: instances[1].plan "tiny" is not in the platform's catalog`);
    expect(md.stdout).toContain("⚠ invalid, not applied");
  });

  it("a replacement is flagged and fails unless --allow-replace", async () => {
    reset();
    fx.write(clone, "alice.yaml", alice.replace("template: ubuntu-24", "template: debian-12"));
    const { code, report } = await checkJson();
    expect(code).toBe(1);
    expect(report.replacements).toBe(1);
    expect(report.stacks[0]?.replaced).toEqual([
      { instance: "dev", reasons: ["changing template ubuntu-24 → debian-12 reinstalls dev: its disk is destroyed"] },
    ]);
    expect(report.failures).toEqual(["1 container replaced (disk lost); allow with --allow-replace"]);
    expect((await checkJson("--allow-replace")).code).toBe(0);
  });

  it("a destroy is flagged and fails unless --allow-destroy; changes in place are listed with their fields", async () => {
    reset();
    const withoutDev = alice.slice(0, alice.indexOf("  - name: dev")).replace("plan: medium", "plan: large");
    fx.write(clone, "alice.yaml", withoutDev);
    const { code, report } = await checkJson();
    expect(code).toBe(1);
    expect(report.stacks[0]).toMatchObject({
      created: [],
      replaced: [],
      changed: [{ instance: "web", fields: ["plan"] }],
      destroyed: [{ instance: "dev", reasons: ["removing instance dev destroys its container (VMID 2002) and its disk"] }],
      pointsPerDay: { before: 98, after: 242 },
    });
    expect((await checkJson("--allow-destroy")).code).toBe(0);

    reset();
    fx.git(clone, ["rm", "-q", "stacks/bob.yaml"]);
    const gone = await checkJson("--allow-replace");
    expect(gone.code).toBe(1);
    expect(gone.report.stacks[0]).toMatchObject({
      stack: "bob",
      status: "deleted",
      destroyed: [{ instance: "app" }],
      pointsPerDay: { before: 24, after: null },
    });
  });

  it("a platform change looks at every user stack: a smaller plan disk replaces the allocated containers on it, a price change reprices", async () => {
    reset();
    const platform = fx.read(clone, "platform.yaml");
    fx.write(clone, "platform.yaml", platform.replace("    diskGiB: 8\n    pointsPerDay: 24", "    diskGiB: 6\n    pointsPerDay: 30"));
    const { code, report } = await checkJson("--author", "ops@example.com");
    expect(code).toBe(1);
    expect(report.platformChanged).toBe(true);
    expect(
      report.stacks.map((s) => ({ stack: s.stack, status: s.status, replaced: s.replaced.map((r) => r.instance), changed: s.changed, points: s.pointsPerDay })),
    ).toEqual([
      { stack: "alice", status: "platform-changed", replaced: ["dev"], changed: [], points: { before: 98, after: 104 } },
      { stack: "bob", status: "platform-changed", replaced: ["app"], changed: [], points: { before: 24, after: 30 } },
      // carol's lab was never allocated, so never created: nothing to replace, only the price moves.
      {
        stack: "carol",
        status: "platform-changed",
        replaced: [],
        changed: [{ instance: "lab", fields: ["platform.plans.small"] }],
        points: { before: 24, after: 30 },
      },
    ]);
    expect(report.stacks[1]?.replaced[0]?.reasons).toEqual(["shrinking the disk of app from 8 to 6 GiB recreates it (disks only grow in place)"]);
    expect((await checkJson("--author", "alice@example.com")).report.ownership.errors.map((e) => e.path)).toEqual(["stacks/platform.yaml"]);
  });

  it("a hostname taken by another user is refused, naming both files", async () => {
    reset();
    // bob serves bob-app-api-v2; a new user named bob-app asks for instance api with subdomain v2: the same hostname.
    fx.write(clone, "bob.yaml", bob.replace("- { subdomain: app, port: 3000 }", "- { subdomain: app, port: 3000 }\n      - { subdomain: api-v2, port: 8080 }"));
    fx.commit(clone, "bob: api-v2", "bob@example.com");
    const bobBase = fx.git(clone, ["rev-parse", "HEAD"]);
    const dave = bob
      .replace("name: bob", "name: bob-app")
      .replace("bob@example.com", "dave@example.com")
      .replace("linuxUser: bob", "linuxUser: dave")
      .replace(
        /instances:[\s\S]*$/,
        "instances:\n  - name: api\n    template: debian-12\n    plan: small\n    domains:\n      - { subdomain: v2, port: 80 }\n",
      );
    fx.write(clone, "bob-app.yaml", dave);
    const r = await check("--base", bobBase, "--dir", "stacks", "--json", "--author", "dave@example.com");
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(r.code).toBe(1);
    expect(report.violations.filter((e) => e.code === "set.hostname-conflict").map((e) => `${e.path}:${e.line}:${e.col}`)).toEqual([
      `stacks/bob-app.yaml:${at(dave, "v2")}`,
      `stacks/bob.yaml:${at(fx.read(clone, "bob.yaml"), "api-v2")}`,
    ]);
    expect(report.violations[0]?.message).toContain("hostname bob-app-api-v2.example.com is also claimed by stacks/bob.yaml");
    expect(report.ownership.errors).toEqual([]);
    fx.git(clone, ["reset", "-q", "--hard", base]);
  });

  it("ownership: a user may change only their own file; an operator listed in OWNERS may change any; OWNERS is read at the base", async () => {
    reset();
    fx.write(clone, "bob.yaml", bob.replace("plan: small", "plan: medium"));
    const byAlice = await checkJson("--author", "alice@example.com");
    expect(byAlice.code).toBe(1);
    expect(byAlice.report.ownership.errors).toEqual([
      {
        path: "stacks/bob.yaml",
        line: 1,
        col: 1,
        code: "owners.not-allowed",
        message: "alice@example.com may not change this file: only its owner bob@example.com or ops@example.com (OWNERS) may",
      },
    ]);
    expect((await checkJson("--author", "BOB@example.com")).code).toBe(0);
    expect((await checkJson("--author", "ops@example.com")).code).toBe(0);

    // Granting oneself rights in the same change does not help: OWNERS counts as it was at the base.
    fx.write(clone, "OWNERS", "*  ops@example.com alice@example.com\n");
    const granted = await checkJson("--author", "alice@example.com");
    expect(granted.report.ownership.errors.map((e) => e.path)).toEqual(["stacks/OWNERS", "stacks/bob.yaml"]);
    fx.write(clone, "OWNERS", "*  not-an-email\n");
    const bad = await checkJson("--author", "ops@example.com");
    expect(bad.report.violations).toEqual([
      { path: "stacks/OWNERS", line: 1, col: 4, code: "owners.rule", message: '"not-an-email" is not an e-mail address; OWNERS lists owners by e-mail' },
    ]);
  });

  it("works from the repository's top directory and from inside the stacks directory alike", async () => {
    reset();
    fx.write(clone, "alice.yaml", alice.replace("plan: small", "plan: tiny"));
    let out = "";
    const io: CliIo = { stdout: (t) => void (out += t), stderr: () => undefined, env: { PROXSTACK_STACKS_DIR: join(clone, "stacks") }, cwd: fx.root };
    expect(await main(["check", "--base", "HEAD"], io)).toBe(1);
    expect(out).toMatch(/`stacks\/alice\.yaml:\d+:\d+`/);
  });
});
