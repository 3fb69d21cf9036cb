import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../lib/clock.js";
import { createHostKeyStore, type HostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity, type SshIdentity } from "../ssh/provisioning-key.js";
import { hardenHost } from "../hooks/ssh-harden.js";
import { skipUnless } from "../test/loud-skip.js";
import { canRunSshTestHosts, createSshTestHost, type SshTestHost } from "../testhosts/ssh-host.js";
import { createTerminalSessions, type TerminalSession } from "./terminal-session.js";

let dir = "";
let identity: SshIdentity;
let hostKeys: HostKeyStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pxs-term-"));
  identity = await loadProvisioningIdentity(dir);
  hostKeys = createHostKeyStore(join(dir, "host-keys.db"), systemClock);
});
afterAll(async () => {
  hostKeys.close();
  await rm(dir, { recursive: true, force: true });
});

/** Collects output and waits (bounded) until it matches. */
function reader(t: TerminalSession) {
  let out = "";
  t.onData((c) => (out += c.toString("utf8")));
  return async (re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`terminal output never matched ${re}; got: ${JSON.stringify(out.slice(-500))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
}

describe("terminal sessions: bad requests", () => {
  const sessions = () => createTerminalSessions({ lookup: () => undefined, identity, hostKeys });
  it("refuses an instance the engine does not know, with a 404", async () => {
    await expect(sessions().open({ stack: "alice", instance: "nope", cols: 80, rows: 24 })).rejects.toMatchObject({
      code: "terminal-unknown-instance",
      status: 404,
    });
  });
  it.each([
    [0, 24],
    [80, 1001],
    [80.5, 24],
  ])("refuses the size %sx%s", async (cols, rows) => {
    await expect(sessions().open({ stack: "alice", instance: "web", cols, rows })).rejects.toMatchObject({ code: "terminal-bad-size", status: 400 });
  });
  it("refuses a terminal type with odd characters", async () => {
    await expect(sessions().open({ stack: "alice", instance: "web", cols: 80, rows: 24, term: "xterm;id" })).rejects.toMatchObject({
      code: "terminal-bad-term",
    });
  });
});

const skip = skipUnless(await canRunSshTestHosts(), "terminal session tests against real sshd");

describe.skipIf(skip)("terminal sessions against a real sshd", () => {
  let host: SshTestHost;
  beforeAll(async () => {
    host = await createSshTestHost({ rootAuthorizedKeys: [identity.publicKey] });
    await hardenHost({ host: host.address, port: host.port, user: "alice", keys: [identity.publicKey], identity, hostKeys });
  });
  afterAll(async () => {
    await host?.destroy();
  });

  it("opens a shell as the owner on the address from the engine's state, runs commands, resizes and closes", async () => {
    const looked: string[] = [];
    const sessions = createTerminalSessions({
      lookup: (stack, instance) => {
        looked.push(`${stack}/${instance}`);
        return stack === "alice" && instance === "web" ? { ip: host.address, linuxUser: "alice" } : undefined;
      },
      identity,
      hostKeys,
    });
    const t = await sessions.open({ stack: "alice", instance: "web", cols: 100, rows: 30 });
    expect(looked).toEqual(["alice/web"]);
    const read = reader(t);
    t.write('echo "user=$(id -un) sum=$((6*7))"\n');
    await read(/user=alice sum=42/);
    t.write("stty size\n");
    await read(/\b30 100\b/);
    t.resize(120, 40);
    t.write("stty size\n");
    await read(/\b40 120\b/);
    t.write("exit 3\n");
    expect(await t.closed).toEqual({ exitCode: 3 });
  });

  it("ends the session on close()", async () => {
    const sessions = createTerminalSessions({ lookup: () => ({ ip: host.address, linuxUser: "alice" }), identity, hostKeys });
    const t = await sessions.open({ stack: "alice", instance: "web", cols: 80, rows: 24 });
    t.close();
    await expect(t.closed).resolves.toBeDefined();
  });
});
