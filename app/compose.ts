// The one composition root: config → stacks repo, simulators (only through sim/start.ts), runner per provider, hooks, status store, engine.
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
import type { UserStackSpec } from "../schemas/index.js";
import type { ContainerBacking } from "../sim/backing.js";
import type { CloudflareSimulator } from "../sim/cloudflare/server.js";
import type { ProxmoxSimulator } from "../sim/proxmox/server.js";
import { simulatorSeedFromPlatform } from "../sim/seed.js";
import { providersOf, shouldSimulate, type Providers } from "../sim/should-simulate.js";
import { startSimulators, type SimulatorFaults } from "../sim/start.js";
import type { VpnClient } from "../vpn/client.js";
import { createEngine, type Engine, type EngineOptions } from "../engine/engine.js";
import type { PostApplyHooks } from "../engine/reconciler.js";
import { createAutomationPulumiRunner, realProxmoxEngineLimits, type AutomationRunnerSettings } from "../runners/pulumi/runner.js";
import type { StackRunner } from "../runners/runner.js";
import { createSimulationRunnerForSimulators, type SimulationRunner } from "../runners/simulation/runner.js";
import { createStackIndex } from "../engine/stack-index.js";
import { openStatusStore, type StatusStore } from "../engine/status/store.js";
import { systemTimers } from "../engine/timers.js";
import { createVpnPeerAddresses } from "../vpn/peer-addresses.js";
import { ensureDataDir } from "./data-dir.js";

const run = promisify(execFile);

/** How the two runners are built; tests replace them to see which settings each provider gets. */
export interface RunnerFactories {
  /** Real Proxmox: the Pulumi Automation API runner. */
  pulumi(s: AutomationRunnerSettings): StackRunner;
  /** Simulated Proxmox: the mock-runtime runner applying to the Proxmox simulator and to Cloudflare (simulated or real). */
  simulation(s: Parameters<typeof createSimulationRunnerForSimulators>[0]): SimulationRunner;
}

const defaultRunners: RunnerFactories = {
  pulumi: createAutomationPulumiRunner,
  simulation: createSimulationRunnerForSimulators,
};

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
  /** Faults the simulators start with (`--faults`); ignored for a provider that is real. */
  faults?: SimulatorFaults;
  /**
   * Where the firewall's VPN peer addresses come from instead of asking `vpn` (which may create a peer):
   * `proxstack plan` passes the ones of the last recorded apply. @default asks `vpn`, or none without it
   */
  vpnPeerAddresses?: (spec: UserStackSpec) => Promise<string[]>;
  options?: Partial<EngineOptions>;
  runners?: Partial<RunnerFactories>;
}

export type { Providers };

export interface ComposedEngine {
  engine: Engine;
  mode: "pulumi" | "simulation";
  providers: Providers;
  /** The in-process simulators that run: one per simulated provider. */
  simulators: { pve?: ProxmoxSimulator; cloudflare?: CloudflareSimulator };
  /** Stops the engine, the simulators and closes the databases. */
  close(): Promise<void>;
}

/**
 * Creates `<data dir>/stacks` as a git repository from the checkout's stacks/ when it does not exist
 * yet, with one commit; an existing directory is left as it is. Returns whether it was created.
 * Refuses (naming the path) when `known` is non-empty: the status database then knows stacks, so the
 * directory is missing or mistyped, and seeding the examples would make the engine destroy them.
 */
export async function ensureStacksRepo(
  stacksDir: string,
  seedDir: string,
  known: { db: string; stacks: readonly string[] } = { db: "", stacks: [] },
): Promise<boolean> {
  if (existsSync(stacksDir)) return false;
  if (known.stacks.length > 0) {
    const some = known.stacks.slice(0, 5).join(", ") + (known.stacks.length > 5 ? ", …" : "");
    throw new ProxstackError(
      "stacks-dir-missing",
      `the stacks directory ${stacksDir} does not exist, but ${known.db} knows ${known.stacks.length} stack(s) (${some}): ` +
        "refusing to seed it with the example stacks, which would destroy them. Restore the stacks repository there, " +
        "or set PROXSTACK_STACKS_DIR to where it is",
      { kind: "stall" },
    );
  }
  mkdirSync(stacksDir, { recursive: true });
  cpSync(seedDir, stacksDir, { recursive: true });
  const git = (...args: string[]) => run("git", ["-C", stacksDir, "-c", "user.name=proxstack engine", "-c", "user.email=engine@proxstack.invalid", ...args]);
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", "proxstack: initial stack files from the checkout");
  return true;
}

/**
 * Builds the engine from parsed configuration. Each provider is real exactly when configured
 * (sim/should-simulate.ts) and simulated otherwise, independently:
 * - real Proxmox → the Pulumi runner; its Cloudflare provider gets CLOUDFLARE_API_TOKEN, or the
 *   Cloudflare simulator's URL and token when Cloudflare is simulated;
 * - simulated Proxmox → the simulation runner on the Proxmox simulator; it applies Cloudflare
 *   resources to the Cloudflare simulator, or to the real API when CLOUDFLARE_API_TOKEN is set.
 */
export async function composeEngine(config: Config, deps: ComposeDeps): Promise<ComposedEngine> {
  ensureDataDir(config.dataDir, deps.log);
  const clock = deps.clock ?? systemClock;
  const store = openStatusStore(join(config.dataDir, "engine.db"), { clock });
  // Closed in reverse of what started, also when wiring fails half-way.
  const closers: (() => Promise<void> | void)[] = [];
  try {
    return await wire(config, deps, clock, store, closers);
  } catch (err) {
    for (const c of closers) await c();
    store.close();
    throw err;
  }
}

async function wire(config: Config, deps: ComposeDeps, clock: Clock, store: StatusStore, closers: (() => Promise<void> | void)[]): Promise<ComposedEngine> {
  const runners = { ...defaultRunners, ...deps.runners };
  await ensureStacksRepo(config.stacksDir, join(deps.repoRoot, "stacks"), {
    db: join(config.dataDir, "engine.db"),
    stacks: store.listStacks().map((s) => s.name),
  });
  const { publicKey } = await ensureProvisioningKey(config.dataDir);
  const vpnPeerAddresses = deps.vpnPeerAddresses
    ? { vpnPeerAddresses: deps.vpnPeerAddresses }
    : deps.vpn
      ? { vpnPeerAddresses: createVpnPeerAddresses(deps.vpn) }
      : {};
  const which = shouldSimulate(config);
  const providers = providersOf(config);
  const simDir = join(config.dataDir, "simulation");

  const sims =
    which.pve || which.cloudflare
      ? await startSimulators({
          stateDir: simDir,
          seed: simulatorSeedFromPlatform(await platformForSeed(config.stacksDir)),
          which,
          logger: deps.log,
          ...(deps.backing && which.pve ? { backing: deps.backing } : {}),
          ...(deps.faults ? { faults: deps.faults } : {}),
        })
      : undefined;
  if (sims) closers.push(() => sims.close());
  const simulators = { ...(sims?.pve ? { pve: sims.pve } : {}), ...(sims?.cloudflare ? { cloudflare: sims.cloudflare } : {}) };
  // A simulated provider talks to its simulator; a real one to the configured endpoint.
  const cloudflare = sims?.cloudflare ? { token: sims.cloudflare.token, apiUrl: sims.cloudflare.url } : config.cloudflare;

  let runner: StackRunner;
  // Real Proxmox: one container operation per node and one resource at a time by default (lock timeouts), configurable in the platform file.
  let limits: Partial<EngineOptions> = {};
  if (!sims?.pve) {
    if (!config.proxmox) throw new ProxstackError("compose.proxmox-missing", "Proxmox is neither configured nor simulated", { kind: "bug" });
    const probe = createStackIndex(config.stacksDir);
    await probe.resync();
    limits = realProxmoxEngineLimits(probe.platform().spec);
    runner = runners.pulumi({
      dataDir: config.dataDir,
      repoRoot: deps.repoRoot,
      pulumi: config.pulumi,
      proxmox: config.proxmox,
      cloudflare,
      provisioningPublicKey: publicKey,
      ...vpnPeerAddresses,
      logger: deps.log,
    });
  } else {
    if (!cloudflare) throw new ProxstackError("compose.cloudflare-missing", "Cloudflare is neither configured nor simulated", { kind: "bug" });
    const sim = runners.simulation({
      dataDir: simDir,
      simulators: { pve: { url: sims.pve.url, token: sims.pve.token }, cloudflare: { url: cloudflare.apiUrl, token: cloudflare.token } },
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
  store.setMode(runner.mode);
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
    providers,
    simulators,
    async close() {
      await engine.stop();
      for (const c of closers) await c();
      store.close();
    },
  };
}

/** The platform file the simulators are seeded from (its nodes, templates, Cloudflare ids). */
async function platformForSeed(stacksDir: string) {
  const probe = createStackIndex(stacksDir);
  await probe.resync();
  const platform = probe.platform();
  if (!platform.spec) {
    throw new ProxstackError("platform-invalid", `cannot seed the simulators: ${(platform.errors ?? ["platform.yaml is invalid"]).join("; ")}`, {
      kind: "stall",
    });
  }
  return platform.spec;
}

/** The platform's hooks for this configuration; undefined when no hook can do anything here. */
async function defaultHooks(config: Config, deps: ComposeDeps, clock: Clock, closers: (() => Promise<void> | void)[]): Promise<PostApplyHooks | undefined> {
  // In simulation without real containers nothing answers SSH, so hardening could only fail.
  const sshReachable = !shouldSimulate(config).pve || Boolean(deps.backing);
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
