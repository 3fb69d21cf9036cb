// Every command as a child process: stdout carries only machine output (JSON with --json), logs go to stderr, --help lists only real commands.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "./proxstack.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const dir = mkdtempSync(path.join(tmpdir(), "proxstack-machine-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A clean environment: no real endpoint from the caller's shell, debug logs so that stderr is busy. */
function env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: process.env.HOME ?? "/root",
    PROXSTACK_DATA_DIR: path.join(dir, "data"),
    LOG_LEVEL: "debug",
    PORT: "0",
  };
}

function proxstack(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/proxstack.js", ...args], { cwd: ROOT, env: env(), maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** stdout holds exactly one JSON document on one line. */
function oneJsonLine(stdout: string): unknown {
  const lines = stdout.split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[1]).toBe("");
  return JSON.parse(lines[0] ?? "");
}

/** Logs on stderr are JSON lines when stderr is not a terminal. */
function jsonLogLines(stderr: string): { level: number; msg: string }[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

describe("proxstack: machine output on stdout, logs on stderr", () => {
  it("--help lists exactly the commands that exist, and no unbuilt work", async () => {
    const r = await proxstack(["--help"]);
    expect(r.code).toBe(0);
    const listed = r.stdout
      .split("\n")
      .filter((l) => /^ {2}\S/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(listed).toEqual([...COMMANDS]);
    for (const name of COMMANDS) expect(existsSync(path.join(ROOT, "scripts", `${name}.ts`))).toBe(true);
    expect(r.stdout).not.toMatch(/not built|later issue/i);
    const unknown = await proxstack(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toMatch(/^proxstack: unknown command 'frobnicate'/);
  });

  it("validate --json, cost --json and schema print one JSON document", async () => {
    const v = await proxstack(["validate", "--json"]);
    expect(v.code).toBe(0);
    expect(oneJsonLine(v.stdout)).toMatchObject({ valid: true });
    const c = await proxstack(["cost", "stacks/alice.yaml", "--json"]);
    expect(c.code).toBe(0);
    expect(oneJsonLine(c.stdout)).toMatchObject({ daysPerMonth: 30 });
    const s = await proxstack(["schema", "--kind", "user"]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ title: expect.any(String) as unknown });
    const check = await proxstack(["schema", "--check"]);
    expect(check).toMatchObject({ code: 0, stdout: "" });
  });

  it("reconcile --once --json and status --json: one JSON line while debug logs go to stderr as JSON lines", async () => {
    const once = await proxstack(["reconcile", "--once", "--json"]);
    expect(once.code).toBe(0);
    const doc = oneJsonLine(once.stdout) as { mode: string; providers: unknown; stacks: { name: string; condition: string }[] };
    expect(doc.mode).toBe("simulation");
    expect(doc.providers).toEqual({ proxmox: "simulated", cloudflare: "simulated" });
    expect(doc.stacks.map((s) => [s.name, s.condition]).sort()).toEqual([
      ["alice", "Ready"],
      ["bob", "Ready"],
      ["carol", "Ready"],
      ["platform", "Ready"],
    ]);
    const logs = jsonLogLines(once.stderr);
    expect(logs.some((l) => l.level === 20)).toBe(true);
    expect(logs.some((l) => /simulation: Proxmox VE and Cloudflare are simulated/.test(l.msg))).toBe(true);

    const status = await proxstack(["status", "--json"]);
    expect(status.code).toBe(0);
    expect(oneJsonLine(status.stdout)).toMatchObject({ mode: "simulation", providers: { proxmox: "simulated", cloudflare: "simulated" } });
    expect((await proxstack(["reconcile", "--json"])).code).toBe(2);
  }, 180_000);

  it("serve prints one JSON line (mode, providers, simulators) on stdout and its banner on stderr; SIGTERM exits 0", async () => {
    const child = spawn(process.execPath, ["bin/proxstack.js", "serve", "--no-real-containers", "--no-vpn", "--faults", "pve.latencyMs=1,rateLimitNext=0"], {
      cwd: ROOT,
      env: env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    let rest = "";
    child.stdout.on("data", (c: Buffer) => (rest += c.toString()));
    const summary = JSON.parse(first) as {
      mode: string;
      providers: unknown;
      simulators: { pve: { url: string }; cloudflare: { url: string } };
      faults: unknown;
      dataDir: string;
      portal: { url: string };
    };
    expect(summary.mode).toBe("simulation");
    expect(summary.providers).toEqual({ proxmox: "simulated", cloudflare: "simulated" });
    expect(summary.simulators.pve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(summary.dataDir).toBe(path.join(dir, "data"));
    expect(summary.faults).toEqual({ pve: { latencyMs: 1 }, cloudflare: { rateLimitNext: 0 } });
    // The portal listens where the summary and serve.json say, with the catalog from the platform file.
    expect(summary.portal.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(JSON.parse(readFileSync(path.join(dir, "data", "serve.json"), "utf8"))).toMatchObject({
      mode: "simulation",
      portal: { url: summary.portal.url },
      pve: { url: summary.simulators.pve.url },
    });
    expect(await (await fetch(`${summary.portal.url}/healthz`)).json()).toEqual({ ok: true });
    expect(((await (await fetch(`${summary.portal.url}/api/plans`)).json()) as { items: unknown[] }).items.length).toBeGreaterThan(0);
    // The banner is written before the JSON line, but the two pipes are read independently.
    for (let i = 0; i < 200 && !stderr.includes("Ctrl-C stops."); i++) await new Promise((r) => setTimeout(r, 25));
    expect(stderr).toContain("proxstack is running (mode: simulation)");
    expect(stderr).toContain(`SIMULATION at ${summary.simulators.pve.url}`);
    expect(stderr).toContain("  FAULTS injected:   pve latencyMs=1; cloudflare rateLimitNext=0\n");
    expect(jsonLogLines(stderr).map((l) => l.msg)).toContain(
      "simulation: Proxmox VE and Cloudflare are simulated, nothing real is changed there; FAULTS injected: pve latencyMs=1; cloudflare rateLimitNext=0",
    );
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(rest).toBe("");
  }, 120_000);
});
