// Wires the real parts into one engine for serve, reconcile, plan, up and destroy: config → stacks repo, runner (Pulumi or simulation), status store.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPostApplyHooks } from "../hooks/post-apply.js";
import { ensureProvisioningKey } from "../ssh/provisioning-key.js";
import { createVpnPeerHook } from "../hooks/vpn-peer.js";
import { systemClock, type Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import { ProxstackError } from "../lib/errors.js";
import { replacementRisks } from "../programs/replacement.js";
import type { Config } from "../schemas/config.js";
import { startCloudflareSimulator } from "../sim/cloudflare/server.js";
import { startProxmoxSimulator, type PveFaults } from "../sim/proxmox/server.js";
import type { ContainerBacking } from "../sim/backing.js";
import { simulatorSeedFromPlatform } from "../sim/seed.js";
import type { VpnClient } from "../vpn/client.js";
import { createEngine, type Engine, type EngineOptions } from "../engine/engine.js";
import type { PostApplyHooks } from "../engine/reconciler.js";
import { createAutomationPulumiRunner, realProxmoxEngineLimits } from "../runners/pulumi/runner.js";
import type { StackRunner } from "../runners/runner.js";
import { createSimulationRunnerForSimulators } from "../runners/simulation/runner.js";
import { createStackIndex } from "../engine/stack-index.js";
import { openStatusStore } from "../engine/status/store.js";
import { systemTimers } from "../engine/timers.js";
import { createVpnPeerAddresses } from "../vpn/peer-addresses.js";

const run = promisify(execFile);

export interface ComposeDeps {
  log: Logger;
  /** The checkout: its stacks/ seeds the stacks repository on first start. */
  repoRoot: string;
  clock?: Clock;
  /**
   * Post-deploy hooks. Default: ssh-harden where containers answer SSH (real Proxmox, or a
   * simulator `backing`), plus vpn-peer when a `vpn` client is given; none when neither applies.
   */
  hooks?: PostApplyHooks;
  /** The simulator's "real containers" mode: each running simulated container is a real host. */
  backing?: ContainerBacking;
  /** The VPN service: peer addresses feed the firewall, and the vpn-peer hook keeps targets exact. */
  vpn?: VpnClient;
  options?: Partial<EngineOptions>;
}

export interface ComposedEngine {
  engine: Engine;
  mode: "pulumi" | "simulation";
  /** Where the in-process simulators listen, in simulation mode. */
  simulators?: { proxmox: string; cloudflare: string; proxmoxToken: string; setProxmoxFaults(f: PveFaults): void };
  /** Stops the engine, the simulators and closes the databases. */
  close(): Promise<void>;
}

/**
 * Creates `<data dir>/stacks` as a git repository from the checkout's stacks/ when it does not exist
 * yet, with one commit; an existing directory is left as it is. Returns whether it was created.
 */
export async function ensureStacksRepo(stacksDir: string, seedDir: string): Promise<boolean> {
  if (existsSync(stacksDir)) return false;
  mkdirSync(stacksDir, { recursive: true });
  cpSync(seedDir, stacksDir, { recursive: true });
  const git = (...args: string[]) => run("git", ["-C", stacksDir, "-c", "user.name=proxstack engine", "-c", "user.email=engine@proxstack.invalid", ...args]);
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", "proxstack: initial stack files from the checkout");
  return true;
}

/** Builds the engine from parsed configuration: real Proxmox through Pulumi when configured, else in-process simulators. */
export async function composeEngine(config: Config, deps: ComposeDeps): Promise<ComposedEngine> {
  const clock = deps.clock ?? systemClock;
  mkdirSync(config.dataDir, { recursive: true });
  await ensureStacksRepo(config.stacksDir, join(deps.repoRoot, "stacks"));
  const { publicKey } = await ensureProvisioningKey(config.dataDir);
  const closers: (() => Promise<void> | void)[] = [];
  const vpnPeerAddresses = deps.vpn ? { vpnPeerAddresses: createVpnPeerAddresses(deps.vpn) } : {};
  let runner: StackRunner;
  let simulators: ComposedEngine["simulators"];
  let limits: Partial<EngineOptions> = {};

  if (config.proxmox) {
    const probe = createStackIndex(config.stacksDir);
    await probe.resync();
    limits = realProxmoxEngineLimits(probe.platform().spec);
    runner = createAutomationPulumiRunner({
      dataDir: config.dataDir,
      repoRoot: deps.repoRoot,
      pulumi: config.pulumi,
      proxmox: config.proxmox,
      cloudflare: config.cloudflare,
      provisioningPublicKey: publicKey,
      ...vpnPeerAddresses,
      logger: deps.log,
    });
  } else {
    const probe = createStackIndex(config.stacksDir);
    await probe.resync();
    const platform = probe.platform();
    if (!platform.spec) {
      throw new ProxstackError("platform-invalid", `cannot seed the simulators: ${(platform.errors ?? ["platform.yaml is invalid"]).join("; ")}`, { kind: "stall" });
    }
    const seed = simulatorSeedFromPlatform(platform.spec);
    const simDir = join(config.dataDir, "simulation");
    mkdirSync(simDir, { recursive: true });
    const pveSim = await startProxmoxSimulator({ dbPath: join(simDir, "proxmox.db"), ...seed.proxmox, ...(deps.backing ? { backing: deps.backing } : {}) });
    const cfSim = await startCloudflareSimulator({ dbPath: join(simDir, "cloudflare.db"), ...seed.cloudflare });
    closers.push(() => pveSim.close(), () => cfSim.close());
    simulators = { proxmox: pveSim.url, cloudflare: cfSim.url, proxmoxToken: pveSim.token, setProxmoxFaults: (f) => pveSim.setFaults(f) };
    const sim = createSimulationRunnerForSimulators({
      dataDir: simDir,
      simulators: { pve: { url: pveSim.url, token: pveSim.token }, cloudflare: { url: cfSim.url, token: cfSim.token } },
      taskPollMs: 20,
      provisioningPublicKey: publicKey,
      ...vpnPeerAddresses,
      logger: deps.log.child({ mode: "simulation" }),
      clock,
    });
    closers.unshift(() => sim.close());
    runner = sim;
  }

  const hooks = deps.hooks ?? (await defaultHooks(config, deps, clock, closers));
  const store = openStatusStore(join(config.dataDir, "engine.db"), { clock, mode: runner.mode });
  const engine = createEngine({
    stacksDir: config.stacksDir,
    store,
    runner,
    clock,
    timers: systemTimers,
    log: deps.log,
    replacementRisks: (before, after, platform) => replacementRisks(before, after, platform),
    ...(hooks ? { hooks } : {}),
    options: { ...limits, ...deps.options },
  });
  return {
    engine,
    mode: runner.mode,
    ...(simulators ? { simulators } : {}),
    async close() {
      await engine.stop();
      for (const c of closers) await c();
      store.close();
    },
  };
}

/** The platform's hooks for this configuration; undefined when no hook can do anything here. */
async function defaultHooks(config: Config, deps: ComposeDeps, clock: Clock, closers: (() => Promise<void> | void)[]): Promise<PostApplyHooks | undefined> {
  // In simulation without real containers nothing answers SSH, so hardening could only fail.
  const sshReachable = Boolean(config.proxmox) || Boolean(deps.backing);
  if (!sshReachable && !deps.vpn) return undefined;
  const handle = await createPostApplyHooks({
    dataDir: config.dataDir,
    log: deps.log.child({ component: "hooks" }),
    clock,
    ...(sshReachable ? {} : { sshHarden: false as const }),
    extra: deps.vpn ? [{ handler: createVpnPeerHook({ vpn: deps.vpn }), data: { type: "vpn-peer" } }] : [],
  });
  closers.push(() => handle.close());
  return handle;
}
