// `proxstack sim` end to end: one JSON line, then plain curl clones, starts, snapshots and stops a container and puts a tunnel configuration.
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipUnless } from "../test/loud-skip.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const hasCurl = spawnSync("curl", ["--version"]).status === 0;
const skip = skipUnless(
  hasCurl ? { ok: true } : { ok: false, why: "curl is not installed (apt-get install -y --no-install-recommends curl)" },
  "proxstack sim curl smoke test",
);

interface Line {
  pve: { url: string; token: string };
  cloudflare: { url: string; token: string };
}

describe.skipIf(skip)("proxstack sim + curl", () => {
  let dir: string;
  let child: ChildProcess;
  let stdout = "";
  let stderr = "";
  let line: Line;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "proxstack-sim-"));
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.PROXMOX_VE_ENDPOINT;
    delete env.PROXMOX_VE_API_TOKEN;
    delete env.CLOUDFLARE_API_TOKEN;
    child = spawn(process.execPath, ["bin/proxstack.js", "sim", "--pve-port", "0", "--cf-port", "0", "--data-dir", dir, "--task-delay", "50"], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const first = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once("line", resolve);
      child.once("exit", (code) => reject(new Error(`proxstack sim exited with ${code}: ${stderr}`)));
    });
    stdout = first + "\n";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    line = JSON.parse(first) as Line;
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
    expect(stdout.trim().split("\n")).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
  });

  const pve = async (method: string, p: string, form: Record<string, string> = {}) => {
    const args = ["-sS", "-X", method, "-H", `Authorization: PVEAPIToken=${line.pve.token}`];
    for (const [k, v] of Object.entries(form)) args.push("--data-urlencode", `${k}=${v}`);
    args.push("-w", "\n%{http_code}", `${line.pve.url}/api2/json${p}`);
    const { stdout: out } = await run("curl", args);
    const cut = out.lastIndexOf("\n");
    return { status: Number(out.slice(cut + 1)), body: JSON.parse(out.slice(0, cut)) as { data: unknown } };
  };
  const waitOk = async (upid: unknown) => {
    expect(String(upid)).toMatch(/^UPID:pve1:/);
    for (let i = 0; i < 200; i++) {
      const r = await pve("GET", `/nodes/pve1/tasks/${encodeURIComponent(String(upid))}/status`);
      const d = r.body.data as { status: string; exitstatus?: string };
      if (d.status === "stopped") return d.exitstatus;
      await new Promise((res) => setTimeout(res, 25));
    }
    throw new Error(`task ${String(upid)} did not finish`);
  };

  it("prints one JSON line with real ports and a PVE-format token, and logs 'simulation'", () => {
    expect(line.pve.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(line.cloudflare.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/client\/v4$/);
    expect(line.pve.token).toMatch(/^[^@\s]+@[^!\s]+![^=\s]+=\S+$/);
    expect(stderr).toContain("simulation");
  });

  it("clones, starts, snapshots and stops a container with curl", async () => {
    const clone = await pve("POST", "/nodes/pve1/lxc/9000/clone", { newid: "2001", hostname: "curl-web" });
    expect(clone.status).toBe(200);
    expect(await waitOk(clone.body.data)).toBe("OK");
    expect((await pve("PUT", "/nodes/pve1/lxc/2001/config", { net0: "name=eth0,bridge=vmbr0,ip=10.10.0.21/24,gw=10.10.0.1" })).status).toBe(200);
    expect(await waitOk((await pve("POST", "/nodes/pve1/lxc/2001/status/start")).body.data)).toBe("OK");
    expect((await pve("GET", "/nodes/pve1/lxc/2001/status/current")).body.data).toMatchObject({ status: "running", name: "curl-web" });
    expect(await waitOk((await pve("POST", "/nodes/pve1/lxc/2001/snapshot", { snapname: "first" })).body.data)).toBe("OK");
    expect(await waitOk((await pve("POST", "/nodes/pve1/lxc/2001/status/stop")).body.data)).toBe("OK");
    const snaps = (await pve("GET", "/nodes/pve1/lxc/2001/snapshot")).body.data as { name: string }[];
    expect(snaps.map((s) => s.name)).toEqual(["first", "current"]);
    expect((await pve("GET", "/nodes/pve1/lxc/2001/status/current")).body.data).toMatchObject({ status: "stopped" });
  });

  it("puts a tunnel configuration with curl", async () => {
    const url = `${line.cloudflare.url}/accounts/0123456789abcdef0123456789abcdef/cfd_tunnel/7c1d2e3f-0a1b-4c2d-8e3f-405162738495/configurations`;
    const body = JSON.stringify({
      config: { ingress: [{ hostname: "alice-web.example.com", service: "http://10.10.0.21:80" }, { service: "http_status:404" }] },
    });
    const { stdout: out } = await run("curl", [
      "-sS",
      "-X",
      "PUT",
      "-H",
      `Authorization: Bearer ${line.cloudflare.token}`,
      "-H",
      "Content-Type: application/json",
      "--data",
      body,
      url,
    ]);
    const r = JSON.parse(out) as { success: boolean; result: { version: number; config: { ingress: unknown[] } } };
    expect(r.success).toBe(true);
    expect(r.result.version).toBe(1);
    expect(r.result.config.ingress).toHaveLength(2);
  });
});

describe("proxstack sim refusals", () => {
  const io = (env: Record<string, string | undefined>) => {
    const out = { stdout: "", stderr: "" };
    return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), env, cwd: root } };
  };
  it("refuses to stand in for a configured real Proxmox endpoint, printing nothing on stdout", async () => {
    const { command } = await import("./sim.js");
    const { out, io: cli } = io({ PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006", PROXMOX_VE_API_TOKEN: "root@pam!ci=secret" });
    expect(await command.run(["--pve-port", "0"], cli)).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toContain("PROXMOX_VE_ENDPOINT is set");
  });
  it("treats a bad port flag as a usage error", async () => {
    const { main } = await import("./proxstack.js");
    const { out, io: cli } = io({});
    expect(await main(["sim", "--pve-port", "http"], cli)).toBe(2);
    expect(out.stderr).toContain("--pve-port must be a whole number");
    expect(out.stdout).toBe("");
  });
});

describe("proxstack sim --faults", () => {
  it("starts with the faults: labelled in the JSON line and the log line, applied by both simulators", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "proxstack-sim-faults-"));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", LOG_LEVEL: "info" };
    const child = spawn(process.execPath, ["bin/proxstack.js", "sim", "--data-dir", dataDir, "--faults", "errorRate=1,rateLimitNext=1"], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`proxstack sim exited with ${code}: ${err}`)));
      });
      const l = JSON.parse(first) as Line & { faults: unknown };
      expect(l.faults).toEqual({ pve: { errorRate: 1 }, cloudflare: { rateLimitNext: 1 } });
      expect(err).toContain("FAULTS injected: pve errorRate=1; cloudflare rateLimitNext=1");
      const pveAnswer = await fetch(`${l.pve.url}/api2/json/version`, { headers: { Authorization: `PVEAPIToken=${l.pve.token}` } });
      expect(pveAnswer.status).toBe(500);
      const cfAnswer = await fetch(`${l.cloudflare.url}/user/tokens/verify`, { headers: { Authorization: `Bearer ${l.cloudflare.token}` } });
      expect(cfAnswer.status).toBe(429);
    } finally {
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it.each([
    [
      ["sim", "--faults", "bogus=1"],
      {},
      "proxstack sim: --faults: unknown fault 'bogus'; known: errorRate, lockTimeoutRate, lockTimeouts, stuckTasks, failTasks, rateLimitNext, latencyMs\n",
    ],
    [["sim", "--faults", "errorRate=2"], {}, "proxstack sim: --faults: errorRate is a share from 0 to 1 such as 0.2, got '2'\n"],
    [["serve", "--faults", "lockTimeoutRate=x"], {}, "proxstack serve: --faults: lockTimeoutRate is a share from 0 to 1 such as 0.2, got 'x'\n"],
    [
      ["serve", "--faults", "errorRate=0.1"],
      { PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006", PROXMOX_VE_API_TOKEN: "root@pam!ci=secret" },
      "proxstack serve: --faults: no simulator runs for pve.errorRate (Proxmox is real: PROXMOX_VE_ENDPOINT is set); a real provider gets no injected faults\n",
    ],
  ])("%j is a usage error (exit 2), nothing on stdout", async (args, env, message) => {
    const { main } = await import("./proxstack.js");
    let stdout = "";
    let stderr = "";
    const code = await main([...args], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd: root });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.split("Run 'proxstack")[0]).toBe(message);
  });
});
