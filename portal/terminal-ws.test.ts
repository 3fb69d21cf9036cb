// The web terminal end to end through the portal: ticket → WebSocket → a shell on a real sshd as the stack's Linux user.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { hardenHost } from "../hooks/ssh-harden.js";
import { systemClock } from "../lib/clock.js";
import { createHostKeyStore, type HostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity, type SshIdentity } from "../ssh/provisioning-key.js";
import { skipUnless } from "../test/loud-skip.js";
import { canRunSshTestHosts, createSshTestHost, type SshTestHost } from "../testhosts/ssh-host.js";
import { createTerminalSessions } from "./terminal-session.js";
import { startHarness, type Harness } from "./testing/harness.js";

const skip = skipUnless(await canRunSshTestHosts(), "portal web terminal against a real sshd");

describe.skipIf(skip)("web terminal through the portal (real sshd)", () => {
  let dir = "";
  let identity: SshIdentity;
  let hostKeys: HostKeyStore;
  let host: SshTestHost;
  let h: Harness;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pxs-term-ws-"));
    identity = await loadProvisioningIdentity(dir);
    hostKeys = createHostKeyStore(join(dir, "host-keys.db"), systemClock);
    host = await createSshTestHost({ rootAuthorizedKeys: [identity.publicKey] });
    await hardenHost({ host: host.address, port: host.port, user: "alice", keys: [identity.publicKey], identity, hostKeys });
    // The address comes from the engine's state (here: the harness's fake engine rows for alice.web), never from the client.
    const terminal = createTerminalSessions({
      identity,
      hostKeys,
      port: host.port,
      lookup: (stack, instance) => (stack === "alice" && instance === "web" ? { ip: host.address, linuxUser: "alice" } : undefined),
    });
    h = await startHarness({}, { terminal });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await host?.destroy();
    hostKeys?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("alice gets a shell as alice on her instance; mallory cannot get a ticket for it", async () => {
    const alice = await h.signUp("alice@example.com", "Alice");
    const mallory = await h.signUp("mallory@example.com", "Mallory");
    expect((await h.api("POST", "/api/instances/alice.web/terminal", { token: mallory.token })).status).toBe(404);
    const t = await h.api("POST", "/api/instances/alice.web/terminal", { token: alice.token });
    expect(t.status).toBe(201);
    expect(t.body.url).toBe(`/ws/terminal?ticket=${t.body.ticket}`);
    const ws = new WebSocket(`${h.url.replace("http", "ws")}${t.body.url}`);
    let out = "";
    const closed = new Promise<void>((r) => ws.on("close", () => r()));
    ws.on("message", (m) => {
      const msg = JSON.parse(String(m)) as { type: string; data?: string };
      if (msg.type === "connected") ws.send(JSON.stringify({ type: "input", data: 'echo "user=$(id -un) sum=$((6*7))"; exit\n' }));
      if (msg.type === "data") out += msg.data ?? "";
    });
    await closed;
    expect(out).toMatch(/user=alice sum=42/);
  }, 60_000);
});
