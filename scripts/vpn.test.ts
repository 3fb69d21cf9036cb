// `proxstack vpn serve` as operators run it: usage errors (exit 2) and a real run inside a lab namespace.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { skipUnless } from "../test/loud-skip.js";
import { createVpnClient } from "../vpn/client.js";
import { canRunVpnLab, createVpnLab, type VpnLab } from "../vpn/testing/netns-lab.js";
import type { CliIo } from "./cli.js";
import { main } from "./proxstack.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TOKEN = "cli-test-token-0123456789";

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd: ROOT };
  return { code: await main(args, io), stdout, stderr };
}

describe("proxstack vpn: bad flags and environment are usage errors", () => {
  it.each([
    [["vpn"], {}, /expected 'proxstack vpn serve'/],
    [["vpn", "serve"], {}, /no token: set VPN_TOKEN or VPN_TOKEN_FILE, or pass --token-file/],
    [["vpn", "serve"], { VPN_TOKEN_FILE: "/nonexistent/token" }, /VPN_TOKEN_FILE: cannot read \/nonexistent\/token: ENOENT/],
    [["vpn", "serve"], { VPN_TOKEN: "short" }, /at least 16 characters/],
    [["vpn", "serve", "--token-file", "/nonexistent/token"], {}, /cannot read the token file \/nonexistent\/token: ENOENT/],
    [["vpn", "serve", "--subnet", "10.99.0.7/24"], { VPN_TOKEN: TOKEN }, /did you mean 10\.99\.0\.0\/24/],
    [["vpn", "serve", "--endpoint", "no-port"], { VPN_TOKEN: TOKEN }, /--endpoint must be HOST:PORT/],
    [["vpn", "serve", "--interface", "much-too-long-name"], { VPN_TOKEN: TOKEN }, /--interface must be 1–15/],
    [["vpn", "serve", "--dns", "1.2.3"], { VPN_TOKEN: TOKEN }, /--dns: '1\.2\.3' is not an IPv4 address/],
    [["vpn", "serve", "--ports", "22,http"], { VPN_TOKEN: TOKEN }, /--ports must be a whole number/],
    [["vpn", "serve", "--platform", "nope.yaml"], { VPN_TOKEN: TOKEN }, /--platform: no such file/],
    [["vpn", "serve", "--bogus"], { VPN_TOKEN: TOKEN }, /Unknown option '--bogus'/],
  ] as const)("%j %j", async (args, env, msg) => {
    const r = await run([...args], { ...env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });
});

const skip = skipUnless(await canRunVpnLab(), "proxstack vpn serve in a network namespace");

describe.skipIf(skip)("proxstack vpn serve (real process, device and rules inside a lab namespace)", () => {
  let lab: VpnLab | undefined;
  let dir = "";
  afterEach(async () => {
    await lab?.destroy();
    lab = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("prints its URL, serves the API with the token from a file, applies peers, and exits 0 on SIGTERM", async () => {
    lab = await createVpnLab({ clients: 0, containerIps: [] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pxs-vpn-cli-"));
    const tokenFile = path.join(dir, "token");
    fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const iface = `pxv${lab.id}s`;
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, "bin/proxstack.js"),
        "vpn",
        "serve",
        "--port",
        "0",
        "--netns",
        lab.server.name,
        "--interface",
        iface,
        "--endpoint",
        "192.168.250.1:51820",
        "--data-dir",
        path.join(dir, "vpn"),
        "--token-file",
        tokenFile,
        "--dns",
        "10.10.0.1",
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 300 && !out.includes("\n") && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(out, err).toMatch(/^\{.*\}\n$/);
    const line = JSON.parse(out) as { url: string; publicKey: string; interface: string };
    expect(line.interface).toBe(iface);

    const vpn = createVpnClient({ url: line.url, token: TOKEN });
    const p = await vpn.putPeer("alice", { targets: ["10.10.0.21"] });
    expect(p.config).toContain("DNS = 10.10.0.1");
    // The pool came from stacks/platform.yaml, the default platform file.
    await expect(vpn.putPeer("bob", { targets: ["10.20.0.5"] })).rejects.toMatchObject({ code: "target-outside-pool" });
    const peers = (await lab.exec(lab.server.name, "wg", ["show", iface, "peers"])).stdout.trim();
    expect(peers).toBe(p.publicKey);
    expect((await lab.exec(lab.server.name, "wg", ["show", iface, "public-key"])).stdout.trim()).toBe(line.publicKey);
    expect(err).not.toContain(p.privateKey!);
    expect(err).not.toContain(TOKEN);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // The device stays up across a service restart, peers included.
    expect((await lab.exec(lab.server.name, "wg", ["show", iface, "peers"])).stdout.trim()).toBe(p.publicKey);
  });
});
