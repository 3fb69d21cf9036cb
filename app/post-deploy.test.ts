// The engine runs the post-deploy hooks after a simulated apply: real sshd test hosts behind the
// Proxmox simulator ("real containers" mode) are hardened, and the VPN peer feeds the firewall.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import { ensureProvisioningKey } from "../ssh/provisioning-key.js";
import { silentLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { skipUnless } from "../test/loud-skip.js";
import { createSshHostBacking, type SshHostBacking } from "../testhosts/backing.js";
import { canRunSshTestHosts } from "../testhosts/ssh-host.js";
import { tryLogin } from "../testhosts/ssh-login.js";
import { createVpnClient } from "../vpn/client.js";
import { createMemoryDevice, createMemoryFirewall } from "../vpn/testing/memory-device.js";
import { startVpnService, type VpnServer } from "../vpn/server.js";
import { composeEngine, type ComposedEngine } from "./compose.js";
import { waitFor } from "../engine/testing/engine-test-support.js";

const REPO = resolve(import.meta.dirname, "..");
const skip = skipUnless(await canRunSshTestHosts(), "engine post-deploy hooks against real sshd");

describe.skipIf(skip)("engine: post-deploy hooks after a simulated apply", () => {
  const root = mkdtempSync(join(tmpdir(), "pxs-postdeploy-"));
  let composed: ComposedEngine | undefined;
  let backing: SshHostBacking | undefined;
  let vpnServer: VpnServer | undefined;
  afterAll(async () => {
    await composed?.close();
    await backing?.close();
    await vpnServer?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("hardens the new container, records the hooks on the run, allows the owner's VPN peer in the firewall, and re-hardens a replaced container", async () => {
    const data = join(root, "data");
    const stacks = join(root, "stacks");
    mkdirSync(stacks, { recursive: true });
    // A pool of its own, so this test's hosts never share addresses with other test files' hosts.
    writeFileSync(join(stacks, "platform.yaml"), readFileSync(join(REPO, "stacks", "platform.yaml"), "utf8").replaceAll("10.10.0.", "10.77.0."));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dana@laptop", "-f", join(root, "dana_key")]);
    const danaKey = readFileSync(join(root, "dana_key.pub"), "utf8").trim();
    writeFileSync(
      join(stacks, "dana.yaml"),
      [
        "apiVersion: proxstack.dev/v1",
        "kind: UserStack",
        "name: dana",
        "owner: { email: dana@example.com }",
        "linuxUser: dana",
        "sshKeys:",
        `  - ${danaKey}`,
        "instances:",
        "  - name: box   # vmid and ip are allocated by the engine",
        "    template: debian-12",
        "    plan: small",
        "",
      ].join("\n"),
    );

    const { publicKey } = await ensureProvisioningKey(data);
    backing = createSshHostBacking({ rootAuthorizedKeys: [publicKey], stateDir: join(root, "containers"), peerAddress: "169.254.77.1" });
    // The VPN service with in-memory device and firewall: WireGuard and nftables themselves are
    // proven in vpn/vpn.netns.test.ts; here the engine's wiring to the service is under test.
    const token = "engine-test-token-0123456789";
    vpnServer = await startVpnService({
      dataDir: join(root, "vpn"),
      token,
      endpoint: "vpn.example.com:51820",
      subnet: "10.99.0.0/24",
      pool: "10.77.0.0/24",
      log: silentLogger(),
      device: createMemoryDevice(),
      firewall: createMemoryFirewall(),
    });
    const vpn = createVpnClient({ url: vpnServer.url, token });

    const config = loadConfig({ PROXSTACK_DATA_DIR: data, PROXSTACK_STACKS_DIR: stacks }, root);
    composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, backing, vpn, options: { debounceMs: 30, platformQuietMs: 100 } });
    const { engine } = composed;
    await engine.start();
    await waitFor(() => engine.store.listInstances("dana").some((i) => i.state === "ready"), "dana's instance ready after the hooks", 90_000);

    const box = engine.store.listInstances("dana").find((i) => i.name === "box");
    expect(box).toMatchObject({ vmid: 2000, ip: "10.77.0.20", power: "running", state: "ready" });
    expect(engine.store.getStack("dana")).toMatchObject({ condition: "Ready" });

    // The hooks' outcomes are on the run that applied the stack.
    const run = engine.store.listRuns("dana").find((r) => r.action === "up" && r.state === "succeeded");
    const messages = engine.store.runEvents(run!.id).map((e) => e.message ?? "");
    expect(messages).toContainEqual(expect.stringMatching(/^hook ssh-harden succeeded: changed/));
    expect(messages).toContainEqual(expect.stringMatching(/^hook vpn-peer succeeded/));

    // Real sshd in the container: the owner's key logs in, passwords are refused.
    const keyLogin = await tryLogin({ host: "10.77.0.20", port: 22, username: "dana", privateKey: readFileSync(join(root, "dana_key")), command: "id -un" });
    expect(keyLogin).toMatchObject({ ok: true });
    if (keyLogin.ok) expect(keyLogin.stdout.trim()).toBe("dana");
    const pwLogin = await tryLogin({ host: "10.77.0.20", port: 22, username: "root", password: "anything" });
    expect(pwLogin.ok).toBe(false);

    // The VPN peer lists exactly the container, and the container's firewall admits that peer only.
    const peer = await vpn.getPeer("dana");
    expect(peer?.targets).toEqual(["10.77.0.20"]);
    const pve = createProxmoxClient({ endpoint: composed.simulators.pve!.url, token: composed.simulators.pve!.token, taskPollMs: 10 });
    const rules = await pve.listFirewallRules("pve1", 2000);
    const peerAddress = peer!.address.replace(/\/32$/, "");
    expect(rules.map((r) => r.source)).toContain(peerAddress);

    // Another template replaces the container: a new sshd with a new host key at the same address.
    // The engine drops the old pin, so hardening succeeds again instead of refusing a changed key.
    const succeededUps = () => engine.store.listRuns("dana").filter((r) => r.action === "up" && r.state === "succeeded");
    const before = succeededUps().length;
    const file = join(stacks, "dana.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("template: debian-12", "template: ubuntu-24"));
    await waitFor(
      () => succeededUps().length > before && engine.store.getStack("dana")?.reason === "Applied" && engine.store.listInstances("dana")[0]?.state === "ready",
      "dana re-applied with the replaced container hardened",
      90_000,
    );
    const latest = succeededUps().sort((x, y) => y.id - x.id)[0]!;
    expect(engine.store.runEvents(latest.id).map((e) => e.message ?? "")).toContainEqual(expect.stringMatching(/^hook ssh-harden succeeded: changed/));
  }, 240_000);
});
