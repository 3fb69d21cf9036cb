// `proxstack validate`, `schema` and `cost` as users run them: output format and exit codes 0/1/2.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "./cli.js";
import { main } from "./proxstack.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

async function run(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: opts.env ?? {}, cwd: opts.cwd ?? ROOT };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "proxstack-cli-"));
  for (const f of ["platform.yaml", "alice.yaml", "carol.yaml"]) await writeFile(join(dir, f), await readFile(join(ROOT, "stacks", f)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("proxstack validate", () => {
  it("exits 0 on the examples and says how many files it checked", async () => {
    const r = await run(["validate", "stacks/"]);
    expect(r).toEqual({ code: 0, stdout: "4 files checked: 4 valid, 0 invalid\n", stderr: "" });
  });

  it("defaults to PROXSTACK_STACKS_DIR", async () => {
    const r = await run(["validate"], { env: { PROXSTACK_STACKS_DIR: dir } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("3 files checked: 3 valid, 0 invalid\n");
  });

  it("loads the platform.yaml beside a user file given alone", async () => {
    const r = await run(["validate", "stacks/carol.yaml"]);
    expect(r).toMatchObject({ code: 0, stdout: "2 files checked: 2 valid, 0 invalid\n" });
  });

  it("checks a file of kind Platform under another name against the platform.yaml beside it, and refuses it", async () => {
    await writeFile(join(dir, "eve.yaml"), await readFile(join(ROOT, "stacks", "platform.yaml")));
    try {
      const r = await run(["validate", "eve.yaml"], { cwd: dir });
      expect(r).toEqual({
        code: 1,
        stdout:
          "eve.yaml:4:7: a second Platform file; the platform is already defined in platform.yaml and an installation has exactly one\n" +
          "2 files checked: 1 valid, 1 invalid\n",
        stderr: "",
      });
    } finally {
      await rm(join(dir, "eve.yaml"));
    }
  });

  it("exits 1 and prints path:line:col: message per error", async () => {
    await writeFile(join(dir, "carol.yaml"), (await readFile(join(ROOT, "stacks/carol.yaml"), "utf8")).replace("plan: small", "plan: tiny\n    vmid: 2001"));
    const r = await run(["validate", "."], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")).toEqual([
      "alice.yaml:17:11: vmid 2001 is also claimed by carol.yaml:15:11 (carol/lab); a VMID belongs to one instance across all stacks",
      'carol.yaml:14:11: instances[0].plan "tiny" is not in the platform\'s catalog; choose one of small, medium, large',
      "carol.yaml:15:11: vmid 2001 is also claimed by alice.yaml:17:11 (alice/web); a VMID belongs to one instance across all stacks",
      "3 files checked: 1 valid, 2 invalid",
      "",
    ]);
    const json = await run(["validate", ".", "--json"], { cwd: dir });
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as {
      valid: boolean;
      files: { path: string; valid: boolean }[];
      errors: { path: string; line: number; col: number; code: string }[];
    };
    expect(report.valid).toBe(false);
    expect(report.files.map((f) => [f.path, f.valid])).toEqual([
      ["alice.yaml", false],
      ["carol.yaml", false],
      ["platform.yaml", true],
    ]);
    expect(report.errors[0]).toMatchObject({ path: "alice.yaml", line: 17, col: 11, code: "set.vmid-conflict" });
    await writeFile(join(dir, "carol.yaml"), await readFile(join(ROOT, "stacks/carol.yaml")));
  });

  it.each([
    [["validate", "--strict"], "Unknown option '--strict'"],
    [["validate", "no/such/dir"], "no such file or directory: no/such/dir"],
    [["schema", "--kind", "users"], "--kind must be one of platform, user, got 'users'"],
    [["cost"], "name the user stack file"],
    [["cost", "stacks/nope.yaml"], "no such file: stacks/nope.yaml"],
  ])("exits 2 on a usage error: %j", async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("prints --help and exits 0", async () => {
    const r = await run(["validate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: proxstack validate [paths…] [--json]");
  });

  it("runs as a real process: node bin/proxstack.js validate stacks/", async () => {
    const ok = await promisify(execFile)(process.execPath, ["bin/proxstack.js", "validate", "stacks/"], { cwd: ROOT });
    expect(ok.stdout).toBe("4 files checked: 4 valid, 0 invalid\n");
    const bad = await promisify(execFile)(process.execPath, ["bin/proxstack.js", "validate", "test/fixtures/stackfiles/dup-key.yaml"], { cwd: ROOT }).then(
      () => ({ code: 0, stdout: "" }),
      (e: unknown) => e as { code: number; stdout: string },
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('test/fixtures/stackfiles/dup-key.yaml:13:5: duplicate key "plan": each key may appear only once in a mapping\n');
  });
});

describe("proxstack schema", () => {
  it("prints the user schema as JSON", async () => {
    const r = await run(["schema", "--kind", "user"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { title: string; required: string[] };
    expect(schema.title).toBe("proxstack user stack file");
    expect(schema.required).toEqual(expect.arrayContaining(["apiVersion", "kind", "name", "owner", "linuxUser", "sshKeys"]));
  });

  it("prints a schema for either kind by default", async () => {
    const r = await run(["schema"]);
    expect((JSON.parse(r.stdout) as { anyOf: unknown[] }).anyOf).toHaveLength(2);
  });

  it("--check passes while the committed files are fresh", async () => {
    expect(await run(["schema", "--check"])).toMatchObject({ code: 0, stdout: "" });
  });
});

describe("proxstack cost", () => {
  it("prints a table and totals", async () => {
    const r = await run(["cost", "stacks/alice.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "stacks/alice.yaml (alice), plans from stacks/platform.yaml",
        "  instance  plan    plan/day  domains  extra/day  points/day",
        "  web       medium        72        2          2          74",
        "  dev       small         24        0          0          24",
        "total: 98 points per day, 2940 points per month (30 days)",
        "",
      ].join("\n"),
    );
  });

  it("prints JSON with --json", async () => {
    const r = await run(["cost", "stacks/bob.yaml", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ perDay: 24, perMonth: 720, daysPerMonth: 30 });
  });

  it("exits 1 with positioned errors for an invalid file", async () => {
    const r = await run(["cost", "test/fixtures/stackfiles/plan-unknown.yaml", "--platform", "stacks/platform.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'test/fixtures/stackfiles/plan-unknown.yaml:12:11: instances[0].plan "tiny" is not in the platform\'s catalog; choose one of small, medium, large\n',
    );
  });
});
