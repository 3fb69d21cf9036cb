// `proxstack reconcile --once`, `status`, `plan`, `up`, `destroy` as users run them, in simulation, with exit codes 0/1/2.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { CliIo } from "./cli.js";
import { main } from "./proxstack.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "proxstack-engine-cli-"));
const env = { PROXSTACK_DATA_DIR: join(dir, "data"), LOG_LEVEL: "silent" };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd: ROOT };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe("engine commands (simulation)", () => {
  it("usage errors exit 2", async () => {
    expect((await run(["plan"])).code).toBe(2);
    expect((await run(["up", "a", "b"])).code).toBe(2);
    expect((await run(["status", "--bogus"])).code).toBe(2);
    expect((await run(["destroy", "platform"])).code).toBe(2);
  });

  it("status before any run says where to start, exit 1", async () => {
    const r = await run(["status"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no engine database/);
  });

  it("reconcile --once applies everything; status shows it; plan shows no changes and warns of replacements; a bad file fails plan; destroy, up, protected destroy refused", async () => {
    const once = await run(["reconcile", "--once"]);
    expect(once.code).toBe(0);
    expect(once.stdout).toMatch(/carol\s+Ready\s+Applied/);

    const status = await run(["status", "--json"]);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as {
      mode: string;
      stacks: { name: string; condition: string; instances: { name: string; vmid: number; ip: string }[] }[];
    };
    expect(doc.mode).toBe("simulation");
    expect(doc.stacks.find((s) => s.name === "carol")?.instances).toEqual([expect.objectContaining({ name: "lab", vmid: 2000, ip: "10.10.0.20" })]);
    expect((await run(["status"])).stdout).toMatch(/lab\s+vmid 2000\s+ip 10\.10\.0\.20\s+running\s+ready\s+simulation/);

    const plan = await run(["plan", "alice", "--json"]);
    expect(plan.code).toBe(0);
    const p = JSON.parse(plan.stdout) as { steps: { op: string; type: string; name: string }[] };
    expect(p.steps.length).toBeGreaterThan(0);
    expect(p.steps.every((s) => s.op === "same")).toBe(true);
    expect(p.steps.map((s) => s.name)).toContain("alice/web/container");

    const alice = join(env.PROXSTACK_DATA_DIR, "stacks", "alice.yaml");
    const good = readFileSync(alice, "utf8");
    writeFileSync(alice, good.replace("template: ubuntu-24", "template: debian-12"));
    const replacing = await run(["plan", "alice"]);
    expect(replacing.stdout).toMatch(/WARNING: dev: /);
    writeFileSync(alice, good.replace("plan: small", "plan: tiny"));
    const bad = await run(["plan", "alice"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/alice\.yaml:\d+:\d+: .*tiny/);
    writeFileSync(alice, good);

    const destroy = await run(["destroy", "bob"]);
    expect(destroy.code).toBe(0);
    expect(destroy.stdout).toMatch(/bob\s+Ready\s+Destroyed/);
    const up = await run(["up", "bob"]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/bob\s+Ready\s+Applied/);
    const prot = await run(["destroy", "alice"]);
    expect(prot.code).toBe(1);
    expect(prot.stdout).toMatch(/alice\s+Stalled\s+Protected/);
  }, 300_000);
});
