// Engine benchmarks: resync of 10,000 unchanged stacks, edit → run start with 10,000 files watched, simulation edit → running, platform batching.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { watch } from "chokidar";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import { composeEngine } from "../app/compose.js";
import { createEngine } from "../engine/engine.js";
import { waitFor } from "../engine/testing/engine-test-support.js";
import { createFakeRunner } from "../engine/testing/fake-runner.js";
import { openStatusStore } from "../engine/status/store.js";
import { systemTimers } from "../engine/timers.js";
import { systemClock } from "../lib/clock.js";
import { silentLogger } from "../lib/logger.js";
import type { Bench, BenchFigure } from "./bench.js";

const REPO = resolve(import.meta.dirname, "..");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn bench@host";
const USERS = 10_000;

function platformYaml(): string {
  return readFileSync(join(REPO, "stacks/platform.yaml"), "utf8")
    .replace("vmidRange: { from: 2000, to: 2999 }", "vmidRange: { from: 10000, to: 99999 }")
    .replace("pool: 10.10.0.0/24", "pool: 10.10.0.0/16")
    .replace(/gateway: 10\.10\.0\.1\n/, "gateway: 10.10.0.1\n");
}

function userYaml(i: number, extra = ""): string {
  const ip = `10.10.${Math.floor((i + 100) / 250)}.${((i + 100) % 250) + 2}`;
  return `# bench user ${i}
apiVersion: proxstack.dev/v1
kind: UserStack
name: u${i}
owner:
  email: u${i}@example.com
linuxUser: u${i}
sshKeys:
  - ${KEY}
instances:
  - name: web
    template: debian-12
    plan: small
    vmid: ${10000 + i}
    ip: ${ip}${extra}
`;
}

export function makeDir(users: number): string {
  const dir = mkdtempSync(join(tmpdir(), "proxstack-bench-engine-"));
  writeFileSync(join(dir, "platform.yaml"), platformYaml());
  for (let i = 0; i < users; i++) writeFileSync(join(dir, `u${i}.yaml`), userYaml(i));
  return dir;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** An engine on a fake runner whose status says every stack is applied at its current hash. */
async function settledEngine(dir: string, watchFiles: boolean) {
  const runner = createFakeRunner();
  const store = openStatusStore(":memory:", { clock: systemClock });
  const engine = createEngine({
    stacksDir: dir,
    store,
    runner,
    clock: systemClock,
    timers: systemTimers,
    log: silentLogger(),
    options: { watch: watchFiles, resyncIntervalMs: 0, platformQuietMs: 60_000 },
  });
  await engine.index.resync();
  for (const name of engine.index.names()) {
    const e = engine.index.get(name);
    if (e?.valid) store.markApplied(name, e.valid.hash, e.valid.spec);
  }
  store.markApplied("platform", engine.index.platformHash() ?? "", { platform: engine.index.platform().spec!, routes: [] });
  return { engine, runner, store };
}

export async function resyncFigures(dir: string): Promise<BenchFigure[]> {
  const t0 = performance.now();
  const names = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  await Promise.all(names.map((f) => readFile(join(dir, f), "utf8")));
  const rawRead = performance.now() - t0;

  const { engine, runner, store } = await settledEngine(dir, false);
  const t1 = performance.now();
  const r = await engine.resync();
  await engine.idle();
  const warm = performance.now() - t1;
  const runs = runner.calls.filter((c) => c.method === "up" || c.method === "destroy").length + r.queued.length;

  // A restart: a fresh index (every file parsed and validated again) against the stored hashes.
  const again = createEngine({
    stacksDir: dir,
    store,
    runner,
    clock: systemClock,
    timers: systemTimers,
    log: silentLogger(),
    options: { watch: false, resyncIntervalMs: 0 },
  });
  const t2 = performance.now();
  const r2 = await again.resync();
  const cold = performance.now() - t2;
  await engine.stop();
  await again.stop();
  store.close();
  return [
    {
      name: `full resync, ${USERS.toLocaleString("en-US")} unchanged user stacks (periodic, warm)`,
      value: warm,
      unit: "ms",
      baseline: { name: "reading the files alone", value: rawRead },
      goal: "< 1000 ms",
      met: warm < 1000,
    },
    { name: "Pulumi runs started by that resync", value: runs, unit: "runs", goal: "0", met: runs === 0 },
    {
      name: `resync after a restart (every file parsed and validated again, ${r2.queued.length} queued)`,
      value: cold,
      unit: "ms",
      baseline: { name: "reading the files alone", value: rawRead },
    },
  ];
}

export async function editLatencyFigures(dir: string): Promise<BenchFigure[]> {
  // Baseline: chokidar alone on the same directory, write → change event.
  const bare = watch(dir, { ignoreInitial: true, depth: 0 });
  await new Promise<void>((r) => bare.once("ready", () => r()));
  const bareLat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const f = join(dir, `u${i}.yaml`);
    const seen = new Promise<void>((r) => bare.once("change", () => r()));
    const t = performance.now();
    writeFileSync(f, readFileSync(f, "utf8") + `# touch ${i}\n`);
    await seen;
    bareLat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 60));
  }
  await bare.close();

  const { engine, runner, store } = await settledEngine(dir, true);
  await engine.start();
  const lat: number[] = [];
  const origUp = runner.up.bind(runner);
  let onUp: (() => void) | undefined;
  runner.up = (target, o) => {
    onUp?.();
    return origUp(target, o);
  };
  for (let i = 0; i < 30; i++) {
    const f = join(dir, `u${100 + i}.yaml`);
    const started = new Promise<void>((r) => (onUp = r));
    const t = performance.now();
    writeFileSync(f, readFileSync(f, "utf8").replace("plan: small", "plan: medium"));
    await started;
    lat.push(performance.now() - t);
    await engine.queue.idle();
  }
  const rss = process.memoryUsage().rss / 2 ** 20;
  await engine.stop();
  store.close();
  return [
    {
      name: `edit → run start, p50 (${USERS.toLocaleString("en-US")} files watched, 50 ms debounce)`,
      value: pct(lat, 50),
      unit: "ms",
      baseline: { name: "chokidar event alone, p50", value: pct(bareLat, 50) },
    },
    {
      name: "edit → run start, p95",
      value: pct(lat, 95),
      unit: "ms",
      baseline: { name: "chokidar event alone, p95", value: pct(bareLat, 95) },
      goal: "< 300 ms",
      met: pct(lat, 95) < 300,
    },
    { name: "process RSS while watching", value: rss, unit: "MiB" },
  ];
}

async function platformBatchFigures(): Promise<BenchFigure[]> {
  const dir = makeDir(50);
  const { engine, runner, store } = await settledEngine(dir, true);
  engine.store.markApplied("platform", "stale", { platform: engine.index.platform().spec!, routes: [] });
  await engine.start();
  await engine.idle();
  const before = runner.calls.filter((c) => c.method === "up" && c.stack === "platform").length;
  for (let i = 0; i < 500; i++) {
    const u = i % 50;
    writeFileSync(join(dir, `u${u}.yaml`), userYaml(u, `\n    domains:\n      - { subdomain: www, port: ${1000 + i} }`));
    if (i % 25 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  await waitFor(
    () => engine.store.getStack("platform")?.appliedHash === engine.index.platformHash() && engine.queue.stats().running === 0,
    "platform converged",
    120_000,
  );
  await engine.idle();
  const runs = runner.calls.filter((c) => c.method === "up" && c.stack === "platform").length - before;
  await engine.stop();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return [
    {
      name: "500 domain edits across 50 users → platform stack runs",
      value: runs,
      unit: "runs",
      baseline: { name: "one run per edit", value: 500 },
      goal: "≤ 3",
      met: runs <= 3,
    },
  ];
}

async function simulationFigures(): Promise<BenchFigure[]> {
  const root = mkdtempSync(join(tmpdir(), "proxstack-bench-sim-"));
  const { loadConfig } = await import("../schemas/config.js");
  const config = loadConfig({ PROXSTACK_DATA_DIR: join(root, "data"), LOG_LEVEL: "silent" }, root);
  const composed = await composeEngine(config, { log: silentLogger(), repoRoot: REPO, options: { debounceMs: 50 } });
  const { engine } = composed;
  await engine.start();
  await engine.idle();
  const pve = createProxmoxClient({ endpoint: composed.simulators.pve?.url ?? "", token: composed.simulators.pve?.token ?? "", taskPollMs: 20 });
  const lat: number[] = [];
  const notice: number[] = [];
  for (let i = 0; i < 8; i++) {
    const stack = `sim${i}`;
    const name = "web";
    const t = performance.now();
    let seen = 0;
    const off = engine.store.subscribe((e) => {
      if (!seen && e.type === "run" && e.run.stack === stack && e.run.state === "running") seen = performance.now() - t;
    });
    // A new instance without VMID or IP: allocation and write-back are part of the measured path.
    writeFileSync(
      join(config.stacksDir, `${stack}.yaml`),
      userYaml(i)
        .replace(`name: u${i}`, `name: ${stack}`)
        .replace(/ {4}vmid: .*\n {4}ip: .*\n/, "")
        .replaceAll(`u${i}@`, `${stack}@`)
        .replace(`linuxUser: u${i}`, `linuxUser: ${stack}`),
    );
    // Running as the simulator reports it (the container's status), not as the engine records it.
    await waitFor(
      async () => {
        const vmid = engine.store.listInstances(stack).find((x) => x.name === name)?.vmid;
        if (vmid === undefined) return false;
        return (await pve.listContainers("pve1")).some((c) => c.vmid === vmid && c.status === "running");
      },
      `instance ${stack}/${name} running in the simulator`,
      60_000,
    );
    lat.push(performance.now() - t);
    notice.push(seen);
    off();
    await engine.idle();
  }
  await composed.close();
  rmSync(root, { recursive: true, force: true });
  return [
    {
      name: "simulation: new instance in a stack file → running in the simulator, p95",
      value: pct(lat, 95),
      unit: "ms",
      baseline: { name: "edit → run start, p95", value: pct(notice, 95) },
      goal: "< 3000 ms",
      met: pct(lat, 95) < 3000,
    },
    { name: "simulation: new instance → running, p50", value: pct(lat, 50), unit: "ms", baseline: { name: "edit → run start, p50", value: pct(notice, 50) } },
  ];
}

export const bench: Bench = {
  title: "Engine: resync, edit latency, simulation apply, platform batching",
  description:
    "10,000 generated user stack files (one instance each) in a temp directory with a fake runner that counts runs: a periodic resync when nothing changed (baseline: reading the files alone), the same after a restart, and edit → run start with all 10,000 files watched by chokidar (baseline: chokidar's own event latency). Then the composed engine against the in-process simulators: a new stack file with one instance (no VMID or IP) until the simulator's container is running (VMID and IP allocated and written back on the way; baseline: edit → run start). Finally 500 domain edits across 50 users, counting platform-stack runs (baseline: one run per edit).",
  async run() {
    const dir = makeDir(USERS);
    try {
      const figures = [...(await resyncFigures(dir)), ...(await editLatencyFigures(dir))];
      figures.push(...(await platformBatchFigures()));
      figures.push(...(await simulationFigures()));
      return figures;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
