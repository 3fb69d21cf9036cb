// The composition root decides each provider alone: which runner gets which endpoints, and which simulators start.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCloudflareClient } from "../clients/cloudflare/client.js";
import { openStatusStore } from "../engine/status/store.js";
import { createFakeRunner } from "../engine/testing/fake-runner.js";
import { systemClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import type { AutomationRunnerSettings } from "../runners/pulumi/runner.js";
import type { createSimulationRunnerForSimulators } from "../runners/simulation/runner.js";
import { loadConfig } from "../schemas/config.js";
import type { PlatformSpec } from "../schemas/index.js";
import { startCloudflareSimulator, type CloudflareSimulator } from "../sim/cloudflare/server.js";
import { simulatorSeedFromPlatform } from "../sim/seed.js";
import { parseStackFile } from "../stackfiles/parse.js";
import { composeEngine, type ComposedEngine, type RunnerFactories } from "./compose.js";

const REPO = resolve(import.meta.dirname, "..");
const PVE = { PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006", PROXMOX_VE_API_TOKEN: "proxstack@pve!engine=00000000-0000-0000-0000-000000000000" };
const CF = { CLOUDFLARE_API_TOKEN: "real-cloudflare-token", CLOUDFLARE_API_URL: "https://cf.example.com/client/v4" };

let root: string | undefined;
let composed: ComposedEngine | undefined;
let external: CloudflareSimulator | undefined;
afterEach(async () => {
  await composed?.close();
  await external?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  composed = undefined;
  external = undefined;
  root = undefined;
});

type SimulationSettings = Parameters<typeof createSimulationRunnerForSimulators>[0];

/** Runner factories that record the settings each runner was given. */
function recordingRunners() {
  const calls: { pulumi: AutomationRunnerSettings[]; simulation: SimulationSettings[] } = { pulumi: [], simulation: [] };
  const runners: RunnerFactories = {
    pulumi: (s) => {
      calls.pulumi.push(s);
      return createFakeRunner({ mode: "pulumi" });
    },
    simulation: (s) => {
      calls.simulation.push(s);
      return Object.assign(createFakeRunner({ mode: "simulation" }), { close: () => undefined });
    },
  };
  return { calls, runners };
}

async function compose(env: Record<string, string>) {
  root = mkdtempSync(join(tmpdir(), "compose-"));
  const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data"), ...env }, root);
  const { calls, runners } = recordingRunners();
  composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, runners });
  const simFile = (name: string) => existsSync(join(config.dataDir, "simulation", name));
  return { config, calls, composed, files: { proxmox: simFile("proxmox.db"), cloudflare: simFile("cloudflare.db") } };
}

describe("composeEngine: each provider real exactly when configured", () => {
  it("nothing configured: both simulators start; the simulation runner gets both", async () => {
    const { calls, composed: c, files } = await compose({});
    expect(c.providers).toEqual({ proxmox: "simulated", cloudflare: "simulated" });
    expect(c.mode).toBe("simulation");
    expect(calls.pulumi).toHaveLength(0);
    expect(calls.simulation).toHaveLength(1);
    const { pve, cloudflare } = c.simulators;
    expect(calls.simulation[0]?.simulators).toEqual({
      pve: { url: pve?.url, token: pve?.token },
      cloudflare: { url: cloudflare?.url, token: cloudflare?.token },
    });
    expect(pve?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cloudflare?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/);
    expect(files).toEqual({ proxmox: true, cloudflare: true });
  });

  it("real Proxmox, no Cloudflare token: only the Cloudflare simulator starts; the Pulumi runner gets real Proxmox and the simulated Cloudflare", async () => {
    const { calls, composed: c, files } = await compose(PVE);
    expect(c.providers).toEqual({ proxmox: "real", cloudflare: "simulated" });
    expect(c.mode).toBe("pulumi");
    expect(c.simulators.pve).toBeUndefined();
    const cf = c.simulators.cloudflare;
    expect(cf?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/);
    expect(calls.simulation).toHaveLength(0);
    expect(calls.pulumi).toHaveLength(1);
    expect(calls.pulumi[0]?.proxmox).toEqual({ endpoint: PVE.PROXMOX_VE_ENDPOINT, token: PVE.PROXMOX_VE_API_TOKEN, insecure: false });
    expect(calls.pulumi[0]?.cloudflare).toEqual({ token: cf?.token, apiUrl: cf?.url });
    expect(files).toEqual({ proxmox: false, cloudflare: true });
  });

  it("real Cloudflare, no Proxmox: only the Proxmox simulator starts; the simulation runner applies Cloudflare to the real API", async () => {
    const { calls, composed: c, files } = await compose(CF);
    expect(c.providers).toEqual({ proxmox: "simulated", cloudflare: "real" });
    expect(c.mode).toBe("simulation");
    expect(c.simulators.cloudflare).toBeUndefined();
    const pve = c.simulators.pve;
    expect(calls.pulumi).toHaveLength(0);
    expect(calls.simulation[0]?.simulators).toEqual({
      pve: { url: pve?.url, token: pve?.token },
      cloudflare: { url: CF.CLOUDFLARE_API_URL, token: CF.CLOUDFLARE_API_TOKEN },
    });
    expect(files).toEqual({ proxmox: true, cloudflare: false });
  });

  it("both real: no simulator starts; the Pulumi runner gets both real endpoints", async () => {
    const { calls, composed: c, files } = await compose({ ...PVE, ...CF });
    expect(c.providers).toEqual({ proxmox: "real", cloudflare: "real" });
    expect(c.simulators).toEqual({});
    expect(calls.simulation).toHaveLength(0);
    expect(calls.pulumi[0]?.cloudflare).toEqual({ token: CF.CLOUDFLARE_API_TOKEN, apiUrl: CF.CLOUDFLARE_API_URL });
    expect(files).toEqual({ proxmox: false, cloudflare: false });
  });

  it("simulated Proxmox + configured Cloudflare applies the platform's tunnel routes to that Cloudflare, not to a simulator of its own", async () => {
    // A separately started Cloudflare simulator stands in for the real API, reached only through CLOUDFLARE_API_*.
    const parsed = parseStackFile("platform.yaml", readFileSync(join(REPO, "stacks", "platform.yaml")));
    if (!parsed.ok) throw new Error("stacks/platform.yaml is invalid");
    const platform = parsed.spec as PlatformSpec;
    root = mkdtempSync(join(tmpdir(), "compose-cf-"));
    external = await startCloudflareSimulator({ dbPath: join(root, "external-cf.db"), ...simulatorSeedFromPlatform(platform).cloudflare });
    const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data"), CLOUDFLARE_API_TOKEN: external.token, CLOUDFLARE_API_URL: external.url }, root);
    composed = await composeEngine(config, {
      log: silentLogger(),
      repoRoot: REPO,
      options: { watch: false, resyncIntervalMs: 0, debounceMs: 10, platformQuietMs: 50 },
    });
    expect(composed.simulators.cloudflare).toBeUndefined();
    await composed.engine.start();
    await composed.engine.idle();
    expect(composed.engine.store.getStack("platform")?.reason).toBe("Applied");
    const cf = createCloudflareClient({ apiUrl: external.url, token: external.token });
    const tunnel = await cf.getTunnelConfig(platform.cloudflare.accountId, platform.cloudflare.tunnelId);
    expect(tunnel.config?.ingress).toEqual([
      { hostname: "alice-web-api.example.com", service: "http://10.10.0.21:8080" },
      { hostname: "alice-web-www.example.com", service: "http://10.10.0.21:80" },
      { hostname: "bob-app-app.example.com", service: "http://10.10.0.23:3000" },
      { service: "http_status:404" },
    ]);
  }, 120_000);
});

describe("composeEngine: first start and a missing stacks directory", () => {
  it("creates the data directory 0700 and seeds the stacks repository when engine.db knows no stack", async () => {
    const { config } = await compose({});
    expect(statSync(config.dataDir).mode & 0o777).toBe(0o700);
    expect(existsSync(join(config.stacksDir, "alice.yaml"))).toBe(true);
  });

  it("refuses to seed the examples into a missing stacks directory when engine.db knows stacks, naming both paths", async () => {
    root = mkdtempSync(join(tmpdir(), "compose-guard-"));
    const data = join(root, "data");
    const first = loadConfig({ PROXSTACK_DATA_DIR: data }, root);
    const { runners } = recordingRunners();
    await (await composeEngine(first, { log: silentLogger(), repoRoot: REPO, runners })).close();
    const store = openStatusStore(join(data, "engine.db"), { clock: systemClock });
    store.markPending("alice");
    store.close();

    const mistyped = loadConfig({ PROXSTACK_DATA_DIR: data, PROXSTACK_STACKS_DIR: join(root, "stakcs") }, root);
    const err = await composeEngine(mistyped, { log: silentLogger(), repoRoot: REPO, runners }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "stacks-dir-missing", kind: "stall" });
    expect((err as Error).message).toBe(
      `the stacks directory ${join(root, "stakcs")} does not exist, but ${join(data, "engine.db")} knows 1 stack(s) (alice): ` +
        "refusing to seed it with the example stacks, which would destroy them. Restore the stacks repository there, or set PROXSTACK_STACKS_DIR to where it is",
    );
    expect(existsSync(join(root, "stakcs"))).toBe(false);
  });
});
