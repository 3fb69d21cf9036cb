// Rollback on a real git repository: the report names what the restoration would change, --yes commits it as a new commit,
// allocations taken since by another stack are left for the engine to allocate anew.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../scripts/cli.js";
import { main } from "../scripts/proxstack.js";
import { loadStackDir } from "../stackfiles/validate.js";
import { createGitFixture, type GitFixture } from "./testing/git-fixture.js";

let fx: GitFixture;
let server: string;
let rev1: string;
let original: string;
let carolCommit: string;

beforeAll(() => {
  fx = createGitFixture("rollback-", { subdir: "" });
  server = fx.clone("server");
  rev1 = fx.git(server, ["rev-parse", "HEAD"]);
  original = fx.read(server, "alice.yaml");
  // alice drops dev, stops and grows web; carol then gets dev's old vmid and address for a new box.
  fx.write(
    server,
    "alice.yaml",
    original.slice(0, original.indexOf("  - name: dev")).replace("plan: medium\n    power: running", "plan: large\n    power: stopped"),
  );
  fx.commit(server, "alice: drop dev, grow web", "alice@example.com");
  fx.write(
    server,
    "carol.yaml",
    fx.read(server, "carol.yaml").trimEnd() + "\n  - name: box\n    template: debian-12\n    plan: small\n    vmid: 2002\n    ip: 10.10.0.22\n",
  );
  carolCommit = fx.commit(server, "carol: box", "carol@example.com");
});
afterAll(() => fx.cleanup());

async function rollback(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { PROXSTACK_STACKS_DIR: server, PROXSTACK_DATA_DIR: fx.root },
    cwd: fx.root,
  };
  return { code: await main(["rollback", ...args], io), stdout, stderr };
}

describe("proxstack rollback", () => {
  it("usage errors exit 2", async () => {
    expect((await rollback("alice")).code).toBe(2);
    expect((await rollback("--to", rev1)).code).toBe(2);
    expect((await rollback("alice", "--to", "nope")).code).toBe(2);
    expect((await rollback("zed", "--to", rev1)).code).toBe(2);
    expect((await rollback("../x", "--to", rev1)).code).toBe(2);
  });

  it("without --yes: the report names what restoring alice's file would change, and nothing is written", async () => {
    const before = fx.read(server, "alice.yaml");
    const r = await rollback("alice", "--to", rev1, "--json", "--allow-replace");
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { report: { stacks: unknown[]; violations: unknown[] }; allocations: unknown[]; commit: string };
    expect(plan.commit).toBe(rev1);
    expect(plan.report.violations).toEqual([]);
    expect(plan.report.stacks).toEqual([
      {
        stack: "alice",
        path: "alice.yaml",
        status: "modified",
        applicable: true,
        created: ["dev"],
        changed: [],
        destroyed: [],
        settings: [],
        replaced: [
          { instance: "web", reasons: [expect.stringMatching(/^shrinking the disk of web from \d+ to \d+ GiB recreates it \(disks only grow in place\)$/)] },
        ],
        hostnames: { added: [], removed: [] },
        pointsPerDay: { before: 242, after: 98 },
      },
    ]);
    expect(plan.allocations).toEqual([
      { instance: "web", field: "vmid", value: "2001", outcome: "kept-current", reason: "its container holds it today" },
      { instance: "web", field: "ip", value: "10.10.0.21", outcome: "kept-current", reason: "its container holds it today" },
      {
        instance: "dev",
        field: "vmid",
        value: "2002",
        outcome: "dropped",
        reason: expect.stringMatching(/^vmid 2002 is also claimed by carol\.yaml:\d+:\d+ \(carol\/box\).*; the engine allocates a new one$/) as string,
      },
      {
        instance: "dev",
        field: "ip",
        value: "10.10.0.22",
        outcome: "dropped",
        reason: expect.stringMatching(/^ip 10\.10\.0\.22 is also claimed by carol\.yaml/) as string,
      },
    ]);
    // Going back to the smaller plan shrinks web's disk: shown, refused without --allow-replace even with --yes.
    const md = await rollback("alice", "--to", rev1, "--yes");
    expect(md.code).toBe(1);
    expect(md.stdout).toContain(`### proxstack rollback alice to ${rev1}: ❌ failed`);
    expect(md.stdout).toContain("- 1 container replaced (disk lost); allow with --allow-replace");
    expect(md.stdout).toContain("- create `dev`");
    expect(md.stdout).toContain("- **replace** `web` (its disk is lost): shrinking the disk of web");
    expect(md.stdout).toContain("- points per day: 242 → 98 (-144)");
    expect(md.stdout).toContain("- dev.vmid 2002: dropped: vmid 2002 is also claimed by carol.yaml");
    expect(md.stderr).toBe("proxstack rollback: nothing committed: 1 container replaced (disk lost); allow with --allow-replace\n");
    expect((await rollback("alice", "--to", rev1, "--allow-replace")).stderr).toContain("nothing committed; run again with --yes");
    expect(fx.read(server, "alice.yaml")).toBe(before);
    expect(fx.git(server, ["rev-parse", "HEAD"])).toBe(carolCommit);
  });

  it("--yes commits the restoration as a new commit: the old file, today's allocations, dev's taken ones left out; the tree validates", async () => {
    const r = await rollback("alice", "--to", "HEAD~2", "--yes", "--allow-replace");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^proxstack rollback: committed [0-9a-f]{12}: alice\.yaml as of HEAD~2\n$/);
    expect(fx.read(server, "alice.yaml")).toBe(original.replace("    vmid: 2002\n    ip: 10.10.0.22\n", ""));
    expect(fx.git(server, ["rev-parse", "HEAD~1"])).toBe(carolCommit);
    expect(fx.git(server, ["log", "-1", "--format=%an|%s|%b"]).trimEnd()).toBe(
      `proxstack rollback|rollback alice to HEAD~2 (${rev1.slice(0, 12)})|create dev\nreplace web\ndropped dev.vmid 2002 (taken since)\ndropped dev.ip 10.10.0.22 (taken since)`,
    );
    expect(fx.git(server, ["status", "--porcelain"])).toBe("");
    expect((await loadStackDir(server)).valid).toBe(true);

    const again = await rollback("alice", "--to", rev1, "--yes", "--allow-replace");
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("already as it was");
  });

  it("a file that did not exist at the revision: the restoration removes it, a destroy that needs --allow-destroy", async () => {
    const before = fx.git(server, ["rev-parse", "HEAD"]);
    fx.write(
      server,
      "dave.yaml",
      fx
        .read(server, "carol.yaml")
        .replace(/carol/g, "dave")
        .replace(/\n  - name: box[\s\S]*$/, "\n"),
    );
    fx.commit(server, "dave joins", "dave@example.com");
    const refused = await rollback("dave", "--to", before, "--yes");
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("- **destroy** `lab`: the stack file is removed");
    expect(fx.read(server, "dave.yaml")).toContain("name: dave");
    const r = await rollback("dave", "--to", before, "--yes", "--allow-destroy");
    expect(r.code).toBe(0);
    expect(fx.git(server, ["ls-files", "dave.yaml"])).toBe("");
    expect(fx.git(server, ["status", "--porcelain"])).toBe("");
    expect(fx.git(server, ["log", "-1", "--format=%s"])).toBe(`rollback dave to ${before} (${before.slice(0, 12)})`);
  });
});
