// End to end: a simulated apply (Proxmox simulator backed by sshd test hosts) followed by the post-deploy hooks.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createCloudflareClient } from "../clients/cloudflare/client.js";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import { simCloudflareFromClient, simProxmoxFromClient } from "../runners/simulation/clients.js";
import { createSimulationRunner, type SimulationRunner } from "../runners/simulation/runner.js";
import { manualClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import { PlatformSpecSchema, UserStackOutputsSchema, UserStackSpecSchema } from "../schemas/index.js";
import { startCloudflareSimulator, type CloudflareSimulator } from "../sim/cloudflare/server.js";
import { startProxmoxSimulator, type ProxmoxSimulator } from "../sim/proxmox/server.js";
import { simulatorSeedFromPlatform } from "../sim/seed.js";
import { skipUnless } from "../test/loud-skip.js";
import { createSshHostBacking, type SshHostBacking } from "../testhosts/backing.js";
import { canRunSshTestHosts } from "../testhosts/ssh-host.js";
import { tryLogin } from "../testhosts/ssh-login.js";
import { createPostApplyHooks, type PostApplyHooksHandle } from "./post-apply.js";
import { ensureProvisioningKey } from "../ssh/provisioning-key.js";

const repo = resolve(import.meta.dirname, "..");
const skip = skipUnless(await canRunSshTestHosts(), "post-deploy hooks after a simulated apply");

describe.skipIf(skip)("post-deploy hooks after a simulated apply", () => {
  let dir = "";
  let pveSim: ProxmoxSimulator;
  let cfSim: CloudflareSimulator;
  let backing: SshHostBacking;
  let runner: SimulationRunner;
  let hooks: PostApplyHooksHandle;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pxs-simapply-"));
    const { publicKey } = await ensureProvisioningKey(join(dir, "data"));
    const platform = PlatformSpecSchema.parse(parse(await readFile(join(repo, "stacks", "platform.yaml"), "utf8")));
    const seed = simulatorSeedFromPlatform(platform);
    backing = createSshHostBacking({ rootAuthorizedKeys: [publicKey], stateDir: join(dir, "containers") });
    pveSim = await startProxmoxSimulator({ dbPath: join(dir, "pve.db"), ...seed.proxmox, taskDelayMs: 1, authFailureDelayMs: 0, backing });
    cfSim = await startCloudflareSimulator({ dbPath: join(dir, "cf.db"), ...seed.cloudflare });
    runner = createSimulationRunner({
      dataDir: join(dir, "data", "simulation"),
      proxmox: simProxmoxFromClient(createProxmoxClient({ endpoint: pveSim.url, token: pveSim.token, taskPollMs: 5 })),
      cloudflare: simCloudflareFromClient(createCloudflareClient({ apiUrl: cfSim.url, token: cfSim.token })),
      program: {
        proxmox: { endpoint: pveSim.url, apiToken: pveSim.token, insecure: false },
        cloudflare: { apiToken: cfSim.token, baseUrl: cfSim.url },
        provisioningPublicKey: publicKey,
      },
      logger: silentLogger(),
      clock: manualClock(new Date("2026-11-25T23:00:00Z")),
    });
    hooks = await createPostApplyHooks({ dataDir: join(dir, "data"), log: silentLogger() });
  });
  afterAll(async () => {
    runner?.close();
    await pveSim?.close();
    await cfSim?.close();
    await backing?.close();
    hooks?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies alice, then hardens her running container and leaves the stopped one alone", async () => {
    const platform = PlatformSpecSchema.parse(parse(await readFile(join(repo, "stacks", "platform.yaml"), "utf8")));
    const alice = UserStackSpecSchema.parse(parse(await readFile(join(repo, "stacks", "alice.yaml"), "utf8")));
    const applied = await runner.up({ kind: "user", name: "alice", spec: alice, platform });
    const outputs = UserStackOutputsSchema.parse(applied.outputs);
    // The simulator started a real sshd for the running container only.
    expect(backing.host(2001)?.address).toBe("10.10.0.21");
    expect(backing.host(2002)).toBeUndefined();

    const records = await hooks.run({
      stack: "alice",
      spec: alice,
      platform,
      instances: outputs.instances.map((i) => ({ name: i.name, vmid: i.vmid, ip: i.ip, power: i.power, changed: true })),
      signal: new AbortController().signal,
      log: silentLogger(),
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ type: "ssh-harden", status: "succeeded", changed: true });
    expect(records[0]?.output).toMatch(/^web \(10\.10\.0\.21\): created user alice, .*wrote authorized_keys \(3 keys\).*verified key login as alice/);
    expect(records[0]?.output).not.toMatch(/dev/);
    const ak = await backing.host(2001)!.readFile("/home/alice/.ssh/authorized_keys");
    for (const k of alice.sshKeys) expect(ak).toContain(k);
    expect(await tryLogin({ host: "10.10.0.21", port: 22, username: "alice", privateKey: hooks.identity.privateKey, command: "hostname" })).toMatchObject({
      ok: true,
      stdout: "alice-web\n",
    });
  });
});
