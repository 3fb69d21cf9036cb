// Test support for the engine's tests and benchmarks: a temp stacks directory seeded from stacks/, polling, and an engine on a fake runner.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../../lib/clock.js";
import { silentLogger } from "../../lib/logger.js";
import { createEngine, type Engine, type EngineOptions } from "../engine.js";
import { createFakeRunner, type FakeRunner } from "./fake-runner.js";
import type { PostApplyHooks } from "../reconciler.js";
import { openStatusStore } from "../status/store.js";
import { systemTimers } from "../timers.js";

/** A temp directory holding copies of the example stack files (and a data dir beside it). */
export function tempStacks(): {
  root: string;
  stacks: string;
  data: string;
  read(name: string): string;
  write(name: string, text: string): void;
  cleanup(): void;
} {
  const root = mkdtempSync(join(tmpdir(), "proxstack-engine-"));
  const stacks = join(root, "stacks");
  cpSync(new URL("../../stacks", import.meta.url), stacks, { recursive: true });
  const data = join(root, "data");
  return {
    root,
    stacks,
    data,
    read: (name) => readFileSync(join(stacks, `${name}.yaml`), "utf8"),
    write: (name, text) => writeFileSync(join(stacks, `${name}.yaml`), text),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Polls `cond` until it holds or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An engine over a stacks dir with a fake runner, a real SQLite store and real timers. */
export function engineOnFake(
  stacksDir: string,
  dbFile: string,
  opts: { runner?: FakeRunner; hooks?: PostApplyHooks; options?: Partial<EngineOptions> } = {},
): { engine: Engine; runner: FakeRunner } {
  const runner = opts.runner ?? createFakeRunner();
  const store = openStatusStore(dbFile, { clock: systemClock });
  const engine = createEngine({
    stacksDir,
    store,
    runner,
    clock: systemClock,
    timers: systemTimers,
    log: silentLogger(),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    options: { debounceMs: 20, platformQuietMs: 50, resyncIntervalMs: 0, ...opts.options },
  });
  return { engine, runner };
}
